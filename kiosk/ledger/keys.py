"""The device key store: Ed25519 signing key, template-encryption key, pinned centre key.

Layout under ``<data_dir>/keys/`` (directory 0700)::

    device_key.pem        current Ed25519 private key, PKCS#8 PEM, 0600
    device_key.next.pem   a staged key during rotation (exists only mid-rotation), 0600
    device.json           device id and key history [{public_key, from_seq}, ...]
    template.key          32 random bytes for AES-GCM template encryption, 0600
    centre_key.pub        the centre's Ed25519 public key (raw, base64), pinned once
                          (`kiosk.ledger.centre_key_pin`)

The device id is fixed at creation ("kiosk-" + 12 hex of sha256(first public key)) and
survives rotation, because ``seq`` is gap-free per device across keys. Rotation is
driven by `LedgerStore.rotate_key`, which writes the hand-over record signed by the old
key; this module only stages, commits or discards the new key so a crash at any step
leaves a state the store can reconcile. The files themselves (names, lock, sealing,
migration) are handled in `kiosk.ledger.key_files`.

The two secret files (``device_key*.pem``, ``template.key``) never hold the raw key beside
the data it protects: each is a reference to an OS keyring entry or a passphrase-sealed
blob (see `kiosk.ledger.keyseal`); plain text only under an explicit
``[keys] protection = "plaintext-dev"``. A legacy plain-text store is migrated on the first
load that can protect it, and a load that cannot fails closed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.errors import KeyStoreError
from kiosk.ledger.key_files import (
    DEVICE_FILE,
    PRIVATE_FILE,
    PURPOSE_DEVICE,
    PURPOSE_TEMPLATE,
    STAGED_FILE,
    TEMPLATE_FILE,
    TEMPLATE_KEY_BYTES,
    create_secret_once,
    encode_private,
    encode_template,
    forget_if_keyring,
    has_plaintext,
    migrate_plaintext,
    private_pem,
    read_private,
    read_secret_file,
    store_lock,
    store_protection,
)
from kiosk.ledger.keyseal import (
    MIN_PASSPHRASE_CHARS,
    KeyPolicy,
    Protection,
    decode_secret,
    encode_secret,
    resolve_new_protection,
    warn_plaintext,
)
from kiosk.ledger.os_keyring import keyring_usable
from kiosk.ledger.sealed_secret import sealed_salt
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.keys import key_id, load_public_key_b64, raw_public_bytes
from kiosk.protocol.keys import public_key_b64 as public_key_to_b64
from kiosk.storage import atomic_write_bytes, create_once_bytes, replace_durably

log = logging.getLogger(__name__)

KEYS_DIRNAME = "keys"


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / KEYS_DIRNAME


@dataclass(frozen=True)
class KeyEpoch:
    """A device public key and the first seq it signs (1 for the first key)."""

    public_key_b64: str
    from_seq: int

    @property
    def public_key(self) -> Ed25519PublicKey:
        return load_public_key_b64(self.public_key_b64)


class DeviceKeys:
    """The kiosk's identity: signing key, key history, and the template-encryption key."""

    def __init__(
        self,
        directory: Path,
        device_id: str,
        private_key: Ed25519PrivateKey,
        history: list[KeyEpoch],
        policy: KeyPolicy | None = None,
    ) -> None:
        self.directory = directory
        self.device_id = device_id
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.history = history
        self.policy = policy if policy is not None else KeyPolicy.from_environ()

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def for_config(cls, cfg: Any) -> DeviceKeys:
        """The device keys of a configured kiosk, protected as its ``[keys]`` section says.

        Every command and service opens keys through here, so a ``[keys] protection``
        setting in the config file applies everywhere, not only where someone remembered.
        """
        return cls.load_or_create(cfg.data_dir, KeyPolicy.from_config(cfg))

    @classmethod
    def load_or_create(cls, data_dir: Path, policy: KeyPolicy | None = None) -> DeviceKeys:
        """Load the device keys under `data_dir`, creating them on first use.

        `policy` (default: from the environment) decides how new secrets are protected and
        how sealed ones are unlocked; see `kiosk.ledger.keyseal`.
        """
        policy = policy if policy is not None else KeyPolicy.from_environ()
        directory = keys_dir(data_dir)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with store_lock(directory):
            if not (directory / PRIVATE_FILE).exists():
                protection = store_protection(directory)
                if protection is Protection.PLAINTEXT:
                    protection = resolve_new_protection(policy)
                data = encode_private(Ed25519PrivateKey.generate(), protection, policy, directory)
                if create_secret_once(directory / PRIVATE_FILE, data):
                    log.info("created device key in %s (%s)", directory, protection.value)
            if not (directory / TEMPLATE_FILE).exists():
                protection = store_protection(directory)
                data = encode_template(
                    os.urandom(TEMPLATE_KEY_BYTES), protection, policy, directory
                )
                create_secret_once(directory / TEMPLATE_FILE, data)
            if not (directory / DEVICE_FILE).exists():
                first = read_private(directory / PRIVATE_FILE, policy).public_key()
                device_id = "kiosk-" + hashlib.sha256(raw_public_bytes(first)).hexdigest()[:12]
                doc = {
                    "device_id": device_id,
                    "keys": [_epoch_json(KeyEpoch(public_key_to_b64(first), 1))],
                }
                create_once_bytes(directory / DEVICE_FILE, _json_bytes(doc), 0o600)
        return cls.load(data_dir, policy)

    @classmethod
    def load(cls, data_dir: Path, policy: KeyPolicy | None = None) -> DeviceKeys:
        """Load existing keys; KeyStoreError if the device has none (run `kiosk keys init`),
        if they cannot be unlocked, or if they are plain text and cannot be protected."""
        policy = policy if policy is not None else KeyPolicy.from_environ()
        directory = keys_dir(data_dir)
        if not (directory / PRIVATE_FILE).exists() or not (directory / DEVICE_FILE).exists():
            raise KeyStoreError(f"no device key in {directory}; run `kiosk keys init`")
        device_id, history = _read_device_doc(directory / DEVICE_FILE)
        protection = store_protection(directory)
        if protection is Protection.PLAINTEXT or has_plaintext(directory):
            with store_lock(directory):
                protection = migrate_plaintext(directory, policy)
        if protection is Protection.PLAINTEXT:
            warn_plaintext(directory)
        staged = directory / STAGED_FILE
        if staged.exists():
            staged_pub = public_key_to_b64(read_private(staged, policy).public_key())
            if staged_pub == history[-1].public_key_b64:
                # Crashed after recording the rotation but before swapping files: finish it.
                old = (directory / PRIVATE_FILE).read_bytes()
                replace_durably(staged, directory / PRIVATE_FILE)
                forget_if_keyring(old)
                log.info("completed an interrupted key rotation")
        private_key = read_private(directory / PRIVATE_FILE, policy)
        keys = cls(directory, device_id, private_key, history, policy)
        if keys.public_key_b64() != history[-1].public_key_b64:
            raise KeyStoreError(
                f"{directory / PRIVATE_FILE} does not match the current key in {DEVICE_FILE}"
            )
        return keys

    def reload(self) -> None:
        """Re-read the files (another process may have rotated the key)."""
        fresh = DeviceKeys.load(self.directory.parent, self.policy)
        self.device_id = fresh.device_id
        self.private_key = fresh.private_key
        self.public_key = fresh.public_key
        self.history = fresh.history

    # -- accessors -------------------------------------------------------------------------

    def public_key_b64(self) -> str:
        return public_key_to_b64(self.public_key)

    def key_id(self) -> str:
        return key_id(self.public_key)

    def template_key(self) -> bytes:
        """The 32-byte AES-GCM key for templates at rest (kept apart from the signing key)."""
        path = self.directory / TEMPLATE_FILE
        try:
            stored = read_secret_file(path)
        except FileNotFoundError:
            raise KeyStoreError(f"template key {path} is missing") from None
        secret = decode_secret(stored, PURPOSE_TEMPLATE, self.policy, str(path))
        data = stored if secret is None else secret
        if len(data) != TEMPLATE_KEY_BYTES:
            raise KeyStoreError(f"template key {path} is corrupt ({len(data)} bytes)")
        return data

    # -- rotation (driven by LedgerStore.rotate_key) ---------------------------------------

    def staged_key(self) -> Ed25519PrivateKey | None:
        path = self.directory / STAGED_FILE
        return read_private(path, self.policy) if path.exists() else None

    def protection(self) -> Protection:
        """How this store's secrets are kept (keyring, passphrase or plain text)."""
        return store_protection(self.directory)

    def reseal(self, target: Protection, new_policy: KeyPolicy) -> None:
        """Rewrite every secret file under `target` protection (the technician's `kiosk keys
        seal`): plain text → keyring/passphrase, passphrase → keyring, or a new passphrase.

        Each file is replaced atomically; the old keyring entries are forgotten only after
        all files point at the new ones, so a crash leaves every file readable.
        """
        if target is Protection.PLAINTEXT:
            raise KeyStoreError("keys can only be sealed, never unsealed to plain text")
        if target is Protection.KEYRING and not keyring_usable():
            raise KeyStoreError("no usable OS keyring backend on this machine")
        if target is Protection.PASSPHRASE:
            passphrase = new_policy.get_passphrase(confirm=True)
            if passphrase is None or len(passphrase) < MIN_PASSPHRASE_CHARS:
                raise KeyStoreError(
                    f"a new key passphrase of at least {MIN_PASSPHRASE_CHARS} characters is needed"
                )
        secrets: list[tuple[str, str, bytes, bytes]] = []
        with store_lock(self.directory):
            for name, purpose in (
                (PRIVATE_FILE, PURPOSE_DEVICE),
                (STAGED_FILE, PURPOSE_DEVICE),
                (TEMPLATE_FILE, PURPOSE_TEMPLATE),
            ):
                path = self.directory / name
                if not path.exists():
                    continue
                old = read_secret_file(path)
                if purpose == PURPOSE_DEVICE:
                    secret = read_private(path, self.policy).private_bytes_raw()
                else:
                    secret = self.template_key()
                secrets.append((name, purpose, old, secret))
            salt: tuple[bytes, int] | None = None
            for name, purpose, _old, secret in secrets:
                plain = (
                    private_pem(Ed25519PrivateKey.from_private_bytes(secret))
                    if (purpose == PURPOSE_DEVICE)
                    else secret
                )
                data = encode_secret(
                    secret, purpose, target, new_policy, plaintext=plain, salt_hint=salt
                )
                salt = salt or sealed_salt(data)
                atomic_write_bytes(self.directory / name, data, 0o600)
            for _name, _purpose, old, _secret in secrets:
                forget_if_keyring(old)
        self.policy = new_policy
        log.warning("device keys in %s resealed with %s protection", self.directory, target.value)

    def stage_rotation(self) -> Ed25519PrivateKey:
        """Write a new key beside the current one; nothing signs with it until committed.
        It gets the same protection as the current key."""
        key = Ed25519PrivateKey.generate()
        self.discard_staged()
        data = encode_private(key, self.protection(), self.policy, self.directory)
        atomic_write_bytes(self.directory / STAGED_FILE, data, 0o600)
        return key

    def commit_rotation(self, from_seq: int, public_key_b64: str) -> None:
        """Make the staged key `public_key_b64` current from `from_seq`; keep the old one in
        the history.

        Called after the hand-over record is durable in the ledger. The history is
        written first, so a crash before the file swap is finished by the next `load`.
        Idempotent: if another process already finished this rotation, just reload.
        """
        staged = self.staged_key()
        if staged is None or public_key_to_b64(staged.public_key()) != public_key_b64:
            self.reload()
            if self.public_key_b64() != public_key_b64:
                raise KeyStoreError(f"the staged key for seq {from_seq} is missing")
            return
        epoch = KeyEpoch(public_key_to_b64(staged.public_key()), from_seq)
        if self.history[-1] != epoch:
            history = [*self.history, epoch]
            doc = {"device_id": self.device_id, "keys": [_epoch_json(e) for e in history]}
            atomic_write_bytes(self.directory / DEVICE_FILE, _json_bytes(doc), 0o600)
            self.history = history
        old = (self.directory / PRIVATE_FILE).read_bytes()
        replace_durably(self.directory / STAGED_FILE, self.directory / PRIVATE_FILE)
        forget_if_keyring(old)  # the retired private key leaves the keyring too
        self.private_key = staged
        self.public_key = staged.public_key()
        log.info("device key rotated to %s from seq %d", self.key_id(), from_seq)

    def discard_staged(self) -> None:
        path = self.directory / STAGED_FILE
        with contextlib.suppress(FileNotFoundError):
            data = path.read_bytes()
            path.unlink()
            forget_if_keyring(data)


def _epoch_json(e: KeyEpoch) -> dict[str, object]:
    return {"public_key": e.public_key_b64, "from_seq": e.from_seq}


def _json_bytes(doc: object) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _read_device_doc(path: Path) -> tuple[str, list[KeyEpoch]]:
    try:
        doc = loads_bounded(path.read_text(encoding="utf-8"))
        device_id = doc["device_id"]
        history = [KeyEpoch(str(e["public_key"]), int(e["from_seq"])) for e in doc["keys"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"{path}: unreadable device file ({exc})") from None
    if not isinstance(device_id, str) or not history or history[0].from_seq != 1:
        raise KeyStoreError(f"{path}: device id or key history is malformed")
    return device_id, history


def read_key_history(directory: Path) -> tuple[str, list[KeyEpoch]]:
    """The device id and public key history from ``device.json`` (no secret is read)."""
    return _read_device_doc(Path(directory) / DEVICE_FILE)


__all__ = [
    "DeviceKeys",
    "KeyEpoch",
    "KeyPolicy",
    "Protection",
    "key_id",
    "keys_dir",
    "load_public_key_b64",
    "public_key_to_b64",
    "raw_public_bytes",
    "read_key_history",
    "store_protection",
]
