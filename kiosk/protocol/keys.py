"""Public keys on the wire: raw Ed25519 bytes in base64, and the short key id.

Device keys appear in key-rotation records and enrolment, the centre key in rosters; both
sides must read and name them the same way, so the two forms are defined here once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.protocol.errors import KeyFormatError

PUBLIC_KEY_BYTES = 32


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    """Raw 32-byte Ed25519 public key, base64: the form keys take in records and rosters."""
    return base64.b64encode(raw_public_bytes(public_key)).decode("ascii")


def load_public_key_b64(text: object) -> Ed25519PublicKey:
    """Parse a base64 raw Ed25519 public key (surrounding whitespace allowed, for keys
    pasted by an operator); KeyFormatError if it is not one."""
    if not isinstance(text, str):
        raise KeyFormatError("public key must be a base64 string")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("public key is not valid base64") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyFormatError(f"public key must be 32 raw bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short key fingerprint: hex sha256(raw public key)[:16]; names keys in rosters and logs."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


__all__ = ["key_id", "load_public_key_b64", "public_key_b64", "raw_public_bytes"]
