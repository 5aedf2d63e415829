"""The ledger head witness: the signed (seq, hash) of the last record, kept outside the
ledger file, so a cut-off tail, a restored older copy or an emptied file is caught.

Why: the hash chain proves every record it holds, but it cannot see records that are no
longer there. Whoever can write ``ledger.sqlite`` (the kiosk's account, a technician with
the disk) can delete the last rows, or put back yesterday's copy, and the rest still
chains. So after every append the store also writes the signed head here, and `verify`
and the door's start-up compare the ledger against it:

* **the OS keyring** (`keyring`: Secret Service, Keychain, Credential Locker) where one
  is usable: another store, in another place, that a copy of the data directory does
  not carry and a restored backup of it does not roll back;
* **a signed file** in the key directory (``keys/ledger_head.json``, 0600), always, so a
  kiosk without a keyring still has a witness; it is signed with the device key, so it
  cannot be forged without the key, but it can be restored together with the ledger from
  one older copy of the data directory (the residual risk, docs/THREAT_MODEL.md; the
  centre is the second witness for that case).

The highest readable head wins. A TPM NV counter would be a third place; no TPM and no
maintained tpm2 binding is present on the target image, so it is not used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.errors import LedgerRolledBack, LedgerTampered
from kiosk.protocol.ledger_head import LedgerHead, SignedHead
from kiosk.storage import exclusive_lock

log = logging.getLogger(__name__)

HEAD_FILE = "ledger_head.json"
_LOCK = ".ledger_head.lock"
KEYRING_SERVICE = "exam-door-kiosk-ledger-head"


class _FileSlot:
    """The signed head file in the key directory (atomic replace, 0600)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / HEAD_FILE
        self.where = str(self.path)

    def read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, text: str) -> None:
        tmp = self.path.with_name(f".{HEAD_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


class _KeyringSlot:
    """One OS keyring entry per device."""

    def __init__(self, device: str) -> None:
        self.username = f"ledger-head-{device}"
        self.where = f"OS keyring ({KEYRING_SERVICE}/{self.username})"

    def read(self) -> str | None:
        import keyring

        try:
            value = keyring.get_password(KEYRING_SERVICE, self.username)
        except Exception as exc:  # a locked or vanished keyring: the file still witnesses
            log.warning("ledger head: keyring unreadable (%s)", exc)
            return None
        return value if isinstance(value, str) else None

    def write(self, text: str) -> None:
        import keyring

        try:
            keyring.set_password(KEYRING_SERVICE, self.username, text)
        except Exception as exc:
            log.warning("ledger head: keyring write failed (%s); the file witness holds", exc)


class HeadWitness:
    """Reads and advances the signed head for one device.

    `public_keys` returns every key the device ever signed with (rotation keeps old heads
    checkable); `keyring` is whether the OS keyring is a slot (see `for_directory`).
    """

    def __init__(
        self,
        directory: Path,
        device: str,
        public_keys: Callable[[], list[Ed25519PublicKey]],
        *,
        keyring: bool,
    ) -> None:
        self.directory = Path(directory)
        self.device = device
        self._public_keys = public_keys
        self._slots: list[_FileSlot | _KeyringSlot] = [_FileSlot(self.directory)]
        if keyring:
            self._slots.append(_KeyringSlot(device))

    @classmethod
    def for_directory(
        cls, directory: Path, device: str, public_keys: Callable[[], list[Ed25519PublicKey]]
    ) -> HeadWitness:
        from kiosk.ledger.os_keyring import keyring_usable

        return cls(directory, device, public_keys, keyring=keyring_usable())

    @property
    def places(self) -> list[str]:
        return [s.where for s in self._slots]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Several processes append (door, sync, CLI): the head only ever moves forward.
        with exclusive_lock(self.directory / _LOCK):
            yield

    def _read_slots(self) -> list[SignedHead]:
        heads = []
        keys = self._public_keys()
        for slot in self._slots:
            text = slot.read()
            if text is None:
                continue
            try:
                signed = SignedHead.from_dict(json.loads(text))
            except ValueError as exc:
                raise LedgerTampered(
                    f"ledger head witness in {slot.where} is unreadable ({exc})"
                ) from None
            if signed.head.device != self.device or not signed.verified_by(keys):
                raise LedgerTampered(
                    f"ledger head witness in {slot.where} is not signed by this device"
                )
            heads.append(signed)
        return heads

    def read(self) -> LedgerHead | None:
        """The highest head any slot holds; None when no slot has one yet."""
        heads = self._read_slots()
        return max((s.head for s in heads), key=lambda h: h.seq) if heads else None

    def advance(self, head: LedgerHead, key: Ed25519PrivateKey) -> None:
        """Record `head` in every slot that holds an older one (never moves back)."""
        text = json.dumps(SignedHead.sign(head, key).to_dict(), sort_keys=True)
        with self._locked():
            current = self.read_quietly()
            if current is not None and current.seq >= head.seq:
                return
            for slot in self._slots:
                slot.write(text)

    def reset(self, head: LedgerHead, key: Ed25519PrivateKey) -> None:
        """Set the head back to `head`: only after a recorded, accepted rollback."""
        text = json.dumps(SignedHead.sign(head, key).to_dict(), sort_keys=True)
        with self._locked():
            for slot in self._slots:
                slot.write(text)

    def read_quietly(self) -> LedgerHead | None:
        try:
            return self.read()
        except LedgerTampered:
            return None


def compare_head(
    witnessed: LedgerHead | None, last_seq: int, digest_at: Callable[[int], str | None]
) -> None:
    """Raise LedgerRolledBack unless the ledger still holds the witnessed head.

    A ledger *ahead* of its witness is fine (a crash between the commit and the witness
    write); one that ends before it, or holds another record at its seq, is not.
    """
    if witnessed is None or witnessed.seq == 0:
        return
    if last_seq < witnessed.seq:
        what = "is empty" if last_seq == 0 else f"ends at {last_seq}"
        raise LedgerRolledBack(f"ledger rolled back: witness seq {witnessed.seq}, ledger {what}")
    if digest_at(witnessed.seq) != witnessed.hash:
        raise LedgerRolledBack(
            f"ledger rewritten: record seq {witnessed.seq} is not the one the witness saw "
            "(an older copy, or a recreated ledger)"
        )


__all__ = [
    "HEAD_FILE",
    "HeadWitness",
    "LedgerHead",
    "LedgerRolledBack",
    "SignedHead",
    "compare_head",
]
