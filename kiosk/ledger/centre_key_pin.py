"""The centre's roster-signing public key, pinned on the kiosk (``keys/centre_key.pub``).

Pinned once: re-pinning a different key is refused, because changing the trust anchor
must be a deliberate act (delete the file), never a side effect of a sync.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.errors import KeyStoreError
from kiosk.ledger.keys import keys_dir
from kiosk.protocol.keys import key_id, load_public_key_b64
from kiosk.protocol.keys import public_key_b64 as public_key_to_b64
from kiosk.storage import create_once_bytes

CENTRE_KEY_FILE = "centre_key.pub"


def pin_centre_key(data_dir: Path, public_key_b64: str) -> None:
    """Pin the centre's roster-signing key. Re-pinning a different key is refused: changing
    the trust anchor must be a deliberate act (delete the file), never a side effect."""
    key = load_public_key_b64(public_key_b64)
    directory = keys_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = public_key_to_b64(key) + "\n"
    path = directory / CENTRE_KEY_FILE
    if not create_once_bytes(path, text.encode("ascii"), 0o600):
        current = path.read_text(encoding="ascii").strip()
        if current != text.strip():
            raise KeyStoreError(
                f"a different centre key is already pinned in {path} (key id "
                f"{key_id(load_public_key_b64(current))}); remove it first to re-pin"
            )


def load_centre_key(data_dir: Path) -> Ed25519PublicKey:
    """The pinned centre key; KeyStoreError if none is pinned yet."""
    path = keys_dir(data_dir) / CENTRE_KEY_FILE
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyStoreError(
            f"no centre key pinned ({path}); run `kiosk keys pin-centre KEY`"
        ) from None
    return load_public_key_b64(text)


__all__ = ["CENTRE_KEY_FILE", "load_centre_key", "pin_centre_key"]
