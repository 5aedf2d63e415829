"""The device key store: Ed25519 signing key, template-encryption key, pinned centre key.

Layout under ``<data_dir>/keys/`` (directory 0700)::

    device_key.pem        current Ed25519 private key, PKCS#8 PEM, 0600
    device_key.next.pem   a staged key during rotation (exists only mid-rotation), 0600
    device.json           device id and key history [{public_key, from_seq}, ...]
    template.key          32 random bytes for AES-GCM template encryption, 0600
    centre_key.pub        the centre's Ed25519 public key (raw, base64), pinned once

The device id is fixed at creation ("kiosk-" + 12 hex of sha256(first public key)) and
survives rotation, because ``seq`` is gap-free per device across keys. Rotation is
driven by `LedgerStore.rotate_key`, which writes the hand-over record signed by the old
key; this module only stages, commits or discards the new key so a crash at any step
leaves a state the store can reconcile.

The two secret files (``device_key*.pem``, ``template.key``) never hold the raw key beside
the data it protects: each is a reference to an OS keyring entry or a passphrase-sealed
blob (see `kiosk.ledger.keyseal`); plain text only under an explicit
``[keys] protection = "plaintext-dev"``. A legacy plain-text store is migrated on the first
load that can protect it, and a load that cannot fails closed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from kiosk.errors import KeyStoreError
from kiosk.ledger.keyseal import (
    MIN_PASSPHRASE_CHARS,
    KeyPolicy,
    Protection,
    decode_secret,
    detect,
    encode_secret,
    keyring_forget,
    keyring_usable,
    resolve_new_protection,
    sealed_salt,
    warn_plaintext,
)
from kiosk.ledger.records import public_key_b64 as public_key_to_b64

log = logging.getLogger(__name__)

KEYS_DIRNAME = "keys"
_PRIVATE = "device_key.pem"
_STAGED = "device_key.next.pem"
_DEVICE = "device.json"
_TEMPLATE = "template.key"
_CENTRE = "centre_key.pub"
_LOCK = ".lock"
TEMPLATE_KEY_BYTES = 32
PURPOSE_DEVICE = "device-signing-key"
PURPOSE_TEMPLATE = "template-key"


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_public_key_b64(s: str) -> Ed25519PublicKey:
    """Parse a base64 raw Ed25519 public key; KeyStoreError if it is not one."""
    try:
        raw = base64.b64decode(s.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise KeyStoreError("public key is not valid base64") from None
    if len(raw) != 32:
        raise KeyStoreError(f"public key must be 32 raw bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short key fingerprint: hex sha256(raw public key)[:16]; names keys in rosters and logs."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / KEYS_DIRNAME


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_tmp(path: Path, data: bytes, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed or (never) widened it
    return tmp


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never half of one."""
    tmp = _write_tmp(path, data, mode)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _create_once(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` only if absent (race-safe across processes); True if we created it."""
    tmp = _write_tmp(path, data, mode)
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)
    return created


@contextlib.contextmanager
def _store_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the key directory while files are created or migrated, so two
    processes starting together (UI and sync) never seal the same secret twice."""
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_secret_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("key file %s had mode %o; tightening to 0600", path, mode)
        os.chmod(path, 0o600)
    return path.read_bytes()


def _read_private(path: Path, policy: KeyPolicy) -> Ed25519PrivateKey:
    data = _read_secret_file(path)
    secret = decode_secret(data, PURPOSE_DEVICE, policy, str(path))
    if secret is not None:
        if len(secret) != 32:
            raise KeyStoreError(f"{path}: sealed device key has the wrong length")
        return Ed25519PrivateKey.from_private_bytes(secret)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"{path}: not a readable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path}: not an Ed25519 private key")
    return key


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def store_protection(directory: Path) -> Protection:
    """The protection of an existing store: that of its first protected secret file."""
    for name in (_PRIVATE, _TEMPLATE, _STAGED):
        with contextlib.suppress(FileNotFoundError):
            found = detect((directory / name).read_bytes())
            if found is not Protection.PLAINTEXT:
                return found
    return Protection.PLAINTEXT


def _salt_hint(directory: Path) -> tuple[bytes, int] | None:
    for name in (_PRIVATE, _TEMPLATE, _STAGED):
        with contextlib.suppress(FileNotFoundError):
            hint = sealed_salt((directory / name).read_bytes())
            if hint is not None:
                return hint
    return None


def _encode_private(
    key: Ed25519PrivateKey, protection: Protection, policy: KeyPolicy, directory: Path
) -> bytes:
    return encode_secret(
        key.private_bytes_raw(),
        PURPOSE_DEVICE,
        protection,
        policy,
        plaintext=_pem(key),
        salt_hint=_salt_hint(directory),
    )


def _encode_template(
    secret: bytes, protection: Protection, policy: KeyPolicy, directory: Path
) -> bytes:
    return encode_secret(
        secret,
        PURPOSE_TEMPLATE,
        protection,
        policy,
        plaintext=secret,
        salt_hint=_salt_hint(directory),
    )


def _create_secret_once(path: Path, data: bytes) -> bool:
    """`_create_once` for a secret; a loser of the race forgets its keyring entry."""
    created = _create_once(path, data, 0o600)
    if not created and detect(data) is Protection.KEYRING:
        keyring_forget(data)
    return created


def _migrate_plaintext(directory: Path, policy: KeyPolicy) -> Protection:
    """Protect every plain-text secret file in `directory` (inside the store lock).

    The target is the store's existing protection if any file already has one (a
    migration that crashed half-way), else what `policy` resolves to; when that is plain
    text (demo), nothing changes. Fails closed with KeyStoreError otherwise.
    """
    target = store_protection(directory)
    files = [
        (name, purpose)
        for name, purpose in (
            (_PRIVATE, PURPOSE_DEVICE),
            (_STAGED, PURPOSE_DEVICE),
            (_TEMPLATE, PURPOSE_TEMPLATE),
        )
        if (directory / name).exists()
        and detect((directory / name).read_bytes()) is Protection.PLAINTEXT
    ]
    if not files:
        return target
    if target is Protection.PLAINTEXT:
        try:
            target = resolve_new_protection(policy)
        except KeyStoreError as exc:
            raise KeyStoreError(
                f"{directory} holds device keys in plain text (a legacy or demo store) and "
                f"they cannot be protected: {exc}",
                code=exc.code,
            ) from None
        if target is Protection.PLAINTEXT:
            return target
    for name, purpose in files:
        path = directory / name
        if purpose == PURPOSE_DEVICE:
            data = _encode_private(_read_private(path, policy), target, policy, directory)
        else:
            raw = path.read_bytes()
            if len(raw) != TEMPLATE_KEY_BYTES:
                raise KeyStoreError(f"template key {path} is corrupt ({len(raw)} bytes)")
            data = _encode_template(raw, target, policy, directory)
        _atomic_write(path, data, 0o600)
        log.warning("migrated plain-text %s to %s protection", path, target.value)
    return target


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
        with _store_lock(directory):
            if not (directory / _PRIVATE).exists():
                protection = store_protection(directory)
                if protection is Protection.PLAINTEXT:
                    protection = resolve_new_protection(policy)
                data = _encode_private(Ed25519PrivateKey.generate(), protection, policy, directory)
                if _create_secret_once(directory / _PRIVATE, data):
                    log.info("created device key in %s (%s)", directory, protection.value)
            if not (directory / _TEMPLATE).exists():
                protection = store_protection(directory)
                data = _encode_template(
                    os.urandom(TEMPLATE_KEY_BYTES), protection, policy, directory
                )
                _create_secret_once(directory / _TEMPLATE, data)
            if not (directory / _DEVICE).exists():
                first = _read_private(directory / _PRIVATE, policy).public_key()
                device_id = "kiosk-" + hashlib.sha256(raw_public_bytes(first)).hexdigest()[:12]
                doc = {
                    "device_id": device_id,
                    "keys": [_epoch_json(KeyEpoch(public_key_to_b64(first), 1))],
                }
                _create_once(directory / _DEVICE, _json_bytes(doc), 0o600)
        return cls.load(data_dir, policy)

    @classmethod
    def load(cls, data_dir: Path, policy: KeyPolicy | None = None) -> DeviceKeys:
        """Load existing keys; KeyStoreError if the device has none (run `kiosk keys init`),
        if they cannot be unlocked, or if they are plain text and cannot be protected."""
        policy = policy if policy is not None else KeyPolicy.from_environ()
        directory = keys_dir(data_dir)
        if not (directory / _PRIVATE).exists() or not (directory / _DEVICE).exists():
            raise KeyStoreError(f"no device key in {directory}; run `kiosk keys init`")
        device_id, history = _read_device_doc(directory / _DEVICE)
        protection = store_protection(directory)
        if protection is Protection.PLAINTEXT or _has_plaintext(directory):
            with _store_lock(directory):
                protection = _migrate_plaintext(directory, policy)
        if protection is Protection.PLAINTEXT:
            warn_plaintext(directory)
        staged = directory / _STAGED
        if staged.exists():
            staged_pub = public_key_to_b64(_read_private(staged, policy).public_key())
            if staged_pub == history[-1].public_key_b64:
                # Crashed after recording the rotation but before swapping files: finish it.
                old = (directory / _PRIVATE).read_bytes()
                os.replace(staged, directory / _PRIVATE)
                _fsync_dir(directory)
                _forget_if_keyring(old)
                log.info("completed an interrupted key rotation")
        private_key = _read_private(directory / _PRIVATE, policy)
        keys = cls(directory, device_id, private_key, history, policy)
        if keys.public_key_b64() != history[-1].public_key_b64:
            raise KeyStoreError(
                f"{directory / _PRIVATE} does not match the current key in {_DEVICE}"
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
        path = self.directory / _TEMPLATE
        try:
            stored = _read_secret_file(path)
        except FileNotFoundError:
            raise KeyStoreError(f"template key {path} is missing") from None
        secret = decode_secret(stored, PURPOSE_TEMPLATE, self.policy, str(path))
        data = stored if secret is None else secret
        if len(data) != TEMPLATE_KEY_BYTES:
            raise KeyStoreError(f"template key {path} is corrupt ({len(data)} bytes)")
        return data

    # -- rotation (driven by LedgerStore.rotate_key) ---------------------------------------

    def staged_key(self) -> Ed25519PrivateKey | None:
        path = self.directory / _STAGED
        return _read_private(path, self.policy) if path.exists() else None

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
        with _store_lock(self.directory):
            for name, purpose in (
                (_PRIVATE, PURPOSE_DEVICE),
                (_STAGED, PURPOSE_DEVICE),
                (_TEMPLATE, PURPOSE_TEMPLATE),
            ):
                path = self.directory / name
                if not path.exists():
                    continue
                old = _read_secret_file(path)
                if purpose == PURPOSE_DEVICE:
                    secret = _read_private(path, self.policy).private_bytes_raw()
                else:
                    secret = self.template_key()
                secrets.append((name, purpose, old, secret))
            salt: tuple[bytes, int] | None = None
            for name, purpose, _old, secret in secrets:
                plain = (
                    _pem(Ed25519PrivateKey.from_private_bytes(secret))
                    if (purpose == PURPOSE_DEVICE)
                    else secret
                )
                data = encode_secret(
                    secret, purpose, target, new_policy, plaintext=plain, salt_hint=salt
                )
                salt = salt or sealed_salt(data)
                _atomic_write(self.directory / name, data, 0o600)
            for _name, _purpose, old, _secret in secrets:
                _forget_if_keyring(old)
        self.policy = new_policy
        log.warning("device keys in %s resealed with %s protection", self.directory, target.value)

    def stage_rotation(self) -> Ed25519PrivateKey:
        """Write a new key beside the current one; nothing signs with it until committed.
        It gets the same protection as the current key."""
        key = Ed25519PrivateKey.generate()
        self.discard_staged()
        data = _encode_private(key, self.protection(), self.policy, self.directory)
        _atomic_write(self.directory / _STAGED, data, 0o600)
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
            _atomic_write(self.directory / _DEVICE, _json_bytes(doc), 0o600)
            self.history = history
        old = (self.directory / _PRIVATE).read_bytes()
        os.replace(self.directory / _STAGED, self.directory / _PRIVATE)
        _fsync_dir(self.directory)
        _forget_if_keyring(old)  # the retired private key leaves the keyring too
        self.private_key = staged
        self.public_key = staged.public_key()
        log.info("device key rotated to %s from seq %d", self.key_id(), from_seq)

    def discard_staged(self) -> None:
        path = self.directory / _STAGED
        with contextlib.suppress(FileNotFoundError):
            data = path.read_bytes()
            path.unlink()
            _forget_if_keyring(data)


def _forget_if_keyring(data: bytes) -> None:
    if detect(data) is Protection.KEYRING:
        keyring_forget(data)


def _has_plaintext(directory: Path) -> bool:
    for name in (_PRIVATE, _TEMPLATE, _STAGED):
        with contextlib.suppress(FileNotFoundError):
            if detect((directory / name).read_bytes()) is Protection.PLAINTEXT:
                return True
    return False


def _epoch_json(e: KeyEpoch) -> dict[str, object]:
    return {"public_key": e.public_key_b64, "from_seq": e.from_seq}


def _json_bytes(doc: object) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _read_device_doc(path: Path) -> tuple[str, list[KeyEpoch]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        device_id = doc["device_id"]
        history = [KeyEpoch(str(e["public_key"]), int(e["from_seq"])) for e in doc["keys"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"{path}: unreadable device file ({exc})") from None
    if not isinstance(device_id, str) or not history or history[0].from_seq != 1:
        raise KeyStoreError(f"{path}: device id or key history is malformed")
    return device_id, history


def read_key_history(directory: Path) -> tuple[str, list[KeyEpoch]]:
    """The device id and public key history from ``device.json`` (no secret is read)."""
    return _read_device_doc(Path(directory) / _DEVICE)


def pin_centre_key(data_dir: Path, public_key_b64: str) -> None:
    """Pin the centre's roster-signing key. Re-pinning a different key is refused: changing
    the trust anchor must be a deliberate act (delete the file), never a side effect."""
    key = load_public_key_b64(public_key_b64)
    directory = keys_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = public_key_to_b64(key) + "\n"
    path = directory / _CENTRE
    if not _create_once(path, text.encode("ascii"), 0o600):
        current = path.read_text(encoding="ascii").strip()
        if current != text.strip():
            raise KeyStoreError(
                f"a different centre key is already pinned in {path} (key id "
                f"{key_id(load_public_key_b64(current))}); remove it first to re-pin"
            )


def load_centre_key(data_dir: Path) -> Ed25519PublicKey:
    """The pinned centre key; KeyStoreError if none is pinned yet."""
    path = keys_dir(data_dir) / _CENTRE
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyStoreError(
            f"no centre key pinned ({path}); run `kiosk keys pin-centre KEY`"
        ) from None
    return load_public_key_b64(text)


__all__ = [
    "DeviceKeys",
    "KeyEpoch",
    "KeyPolicy",
    "Protection",
    "key_id",
    "keys_dir",
    "load_centre_key",
    "load_public_key_b64",
    "pin_centre_key",
    "public_key_to_b64",
    "read_key_history",
    "store_protection",
]
