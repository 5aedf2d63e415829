"""The secret files under ``keys/``: their names, the store lock, reading a private key,
protecting (sealing) secrets and migrating a legacy plain-text store.

`kiosk.ledger.keys.DeviceKeys` is the identity built from these files; this module only
knows bytes on disk, so a crash at any step leaves files the next load can reconcile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from kiosk.errors import KeyStoreError
from kiosk.ledger.keyseal import (
    KeyPolicy,
    Protection,
    decode_secret,
    encode_secret,
    resolve_new_protection,
)
from kiosk.ledger.os_keyring import keyring_forget
from kiosk.ledger.sealed_secret import detect, sealed_salt
from kiosk.storage import atomic_write_bytes, create_once_bytes, exclusive_lock

log = logging.getLogger(__name__)

PRIVATE_FILE = "device_key.pem"
STAGED_FILE = "device_key.next.pem"
DEVICE_FILE = "device.json"
TEMPLATE_FILE = "template.key"
LOCK_FILE = ".lock"
TEMPLATE_KEY_BYTES = 32
PURPOSE_DEVICE = "device-signing-key"
PURPOSE_TEMPLATE = "template-key"


@contextlib.contextmanager
def store_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the key directory while files are created or migrated, so two
    processes starting together (UI and sync) never seal the same secret twice."""
    with exclusive_lock(directory / LOCK_FILE):
        yield


def read_secret_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("key file %s had mode %o; tightening to 0600", path, mode)
        os.chmod(path, 0o600)
    return path.read_bytes()


def read_private(path: Path, policy: KeyPolicy) -> Ed25519PrivateKey:
    data = read_secret_file(path)
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


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def store_protection(directory: Path) -> Protection:
    """The protection of an existing store: that of its first protected secret file."""
    for name in (PRIVATE_FILE, TEMPLATE_FILE, STAGED_FILE):
        with contextlib.suppress(FileNotFoundError):
            found = detect((directory / name).read_bytes())
            if found is not Protection.PLAINTEXT:
                return found
    return Protection.PLAINTEXT


def salt_hint(directory: Path) -> tuple[bytes, int] | None:
    for name in (PRIVATE_FILE, TEMPLATE_FILE, STAGED_FILE):
        with contextlib.suppress(FileNotFoundError):
            hint = sealed_salt((directory / name).read_bytes())
            if hint is not None:
                return hint
    return None


def encode_private(
    key: Ed25519PrivateKey, protection: Protection, policy: KeyPolicy, directory: Path
) -> bytes:
    return encode_secret(
        key.private_bytes_raw(),
        PURPOSE_DEVICE,
        protection,
        policy,
        plaintext=private_pem(key),
        salt_hint=salt_hint(directory),
    )


def encode_template(
    secret: bytes, protection: Protection, policy: KeyPolicy, directory: Path
) -> bytes:
    return encode_secret(
        secret,
        PURPOSE_TEMPLATE,
        protection,
        policy,
        plaintext=secret,
        salt_hint=salt_hint(directory),
    )


def create_secret_once(path: Path, data: bytes) -> bool:
    """`_create_once` for a secret; a loser of the race forgets its keyring entry."""
    created = create_once_bytes(path, data, 0o600)
    if not created and detect(data) is Protection.KEYRING:
        keyring_forget(data)
    return created


def migrate_plaintext(directory: Path, policy: KeyPolicy) -> Protection:
    """Protect every plain-text secret file in `directory` (inside the store lock).

    The target is the store's existing protection if any file already has one (a
    migration that crashed half-way), else what `policy` resolves to; when that is plain
    text (demo), nothing changes. Fails closed with KeyStoreError otherwise.
    """
    target = store_protection(directory)
    files = [
        (name, purpose)
        for name, purpose in (
            (PRIVATE_FILE, PURPOSE_DEVICE),
            (STAGED_FILE, PURPOSE_DEVICE),
            (TEMPLATE_FILE, PURPOSE_TEMPLATE),
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
            data = encode_private(read_private(path, policy), target, policy, directory)
        else:
            raw = path.read_bytes()
            if len(raw) != TEMPLATE_KEY_BYTES:
                raise KeyStoreError(f"template key {path} is corrupt ({len(raw)} bytes)")
            data = encode_template(raw, target, policy, directory)
        atomic_write_bytes(path, data, 0o600)
        log.warning("migrated plain-text %s to %s protection", path, target.value)
    return target


def forget_if_keyring(data: bytes) -> None:
    if detect(data) is Protection.KEYRING:
        keyring_forget(data)


def has_plaintext(directory: Path) -> bool:
    for name in (PRIVATE_FILE, TEMPLATE_FILE, STAGED_FILE):
        with contextlib.suppress(FileNotFoundError):
            if detect((directory / name).read_bytes()) is Protection.PLAINTEXT:
                return True
    return False
