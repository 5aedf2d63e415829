"""The centre's Ed25519 signing key: it signs rosters, and kiosks pin its public half.

The key lives in the centre's data dir as PKCS#8 PEM, mode 0600, created on first use.
Losing it means re-pinning every kiosk, so it is never regenerated over an existing file
that fails to parse: that is an error for an operator, not something to paper over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from centre.errors import CentreKeyError
from kiosk.protocol.keys import key_id, public_key_b64, raw_public_bytes
from kiosk.storage import create_once_bytes

log = logging.getLogger(__name__)

KEY_FILE = "centre_signing_key.pem"


@dataclass(frozen=True)
class CentreKey:
    private_key: Ed25519PrivateKey

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
    def load_or_create(cls, data_dir: Path) -> CentreKey:
        path = Path(data_dir) / KEY_FILE
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError) as exc:
                raise CentreKeyError(f"centre key {path} is unreadable: {exc}") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise CentreKeyError(f"centre key {path} is not an Ed25519 key")
            return cls(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if not create_once_bytes(path, pem, 0o600):  # another worker won the race: use its key
            return cls.load_or_create(data_dir)
        created = cls(key)
        log.info("created centre signing key %s (key id %s)", path, created.key_id)
        return created
