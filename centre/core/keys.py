"""The centre's Ed25519 signing key: it signs rosters, and kiosks pin its public half.

The key lives in the centre's data dir sealed under the operator's passphrase
(`centre.core.sealing`), mode 0600, created on first use, next to the key that encrypts
stored rosters. Losing it means re-pinning every kiosk, so it is never regenerated over
an existing file that fails to open: that is an error for an operator, not something to
paper over.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from centre.core.sealing import centre_passphrase, seal, unseal
from centre.errors import CentreKeyError
from kiosk.protocol.keys import key_id, public_key_b64, raw_public_bytes
from kiosk.storage import create_once_bytes

log = logging.getLogger(__name__)

KEY_FILE = "centre_signing_key.pem"  # legacy plain text: sealed and removed on load
SEALED_KEY_FILE = "centre_signing_key.sealed"
ROSTER_KEY_FILE = "roster_storage_key.sealed"
PURPOSE_SIGNING = "centre-roster-signing-key"
PURPOSE_ROSTERS = "centre-roster-storage-key"


@dataclass(frozen=True)
class CentreKey:
    private_key: Ed25519PrivateKey
    # AES-256 key for signed rosters (which carry enrolment templates) at rest.
    roster_key: bytes = field(repr=False, default=b"")

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_key_raw(self) -> bytes:
        return raw_public_bytes(self.public_key)

    def public_key_b64(self) -> str:
        return public_key_b64(self.public_key)

    @property
    def key_id(self) -> str:
        """Short fingerprint an operator can read aloud when pinning a kiosk."""
        return key_id(self.public_key)

    @classmethod
    def load_or_create(cls, data_dir: Path, passphrase: str | None = None) -> CentreKey:
        """The sealed signing key and roster-storage key under `data_dir`, created on first
        use; a legacy plain PEM is sealed and removed. `passphrase` defaults to the
        environment (`centre.core.sealing.centre_passphrase`)."""
        directory = Path(data_dir)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        passphrase = passphrase if passphrase is not None else centre_passphrase()
        signing = _load_or_create_secret(
            directory / SEALED_KEY_FILE,
            PURPOSE_SIGNING,
            passphrase,
            lambda: (
                _legacy_pem(directory / KEY_FILE)
                or Ed25519PrivateKey.generate().private_bytes_raw()
            ),
        )
        legacy = directory / KEY_FILE
        if legacy.exists():
            legacy.unlink()  # sealed now; the plain copy goes
            log.warning("centre signing key %s sealed and the plain-text file removed", legacy)
        storage = _load_or_create_secret(
            directory / ROSTER_KEY_FILE, PURPOSE_ROSTERS, passphrase, lambda: os.urandom(32)
        )
        if len(signing) != 32 or len(storage) != 32:
            raise CentreKeyError(f"a sealed centre key in {directory} has the wrong length")
        key = cls(Ed25519PrivateKey.from_private_bytes(signing), storage)
        log.info("centre signing key loaded (key id %s)", key.key_id)
        return key


def _legacy_pem(path: Path) -> bytes | None:
    if not path.exists():
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CentreKeyError(f"centre key {path} is unreadable: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CentreKeyError(f"centre key {path} is not an Ed25519 key")
    return key.private_bytes_raw()


def _load_or_create_secret(
    path: Path, purpose: str, passphrase: str, make: Callable[[], bytes]
) -> bytes:
    if not path.exists():
        # a race loser (another worker) opens the winner's file
        create_once_bytes(path, seal(make(), purpose, passphrase), 0o600)
    return unseal(path.read_bytes(), purpose, passphrase, path)
