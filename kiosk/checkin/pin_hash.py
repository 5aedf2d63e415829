"""Proctor PIN hashes that a stolen database cannot check.

Why: a 4-digit PIN has 10,000 values, so scrypt alone only slows an offline search (534 s
on one core for a copied ``proctors.sqlite``, bypassing the door's lockout). Each stored
hash is therefore ``HMAC-SHA256(pin key, scrypt(PIN, salt))``, the PIN key derived from
the device's template key, which is sealed in the OS keyring or under the technician's
passphrase (`kiosk.ledger.keyseal`). With the file alone there is nothing to test a
guess against; at the door, the persisted lockout is the only oracle.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from typing import TYPE_CHECKING

from kiosk.errors import PolicyViolation

if TYPE_CHECKING:
    from kiosk.ledger.keys import DeviceKeys

PIN_KEY_BYTES = 32
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_PIN_KEY_INFO = b"exam-door-kiosk/proctor-pin-key/v1"
_HASH_BYTES = 32


def stretch(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """scrypt(PIN, salt): the slow part, so each online guess costs."""
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=_HASH_BYTES
    )


def keyed(pin_key: bytes, stretched: bytes) -> bytes:
    """HMAC-SHA256 under the PIN key: what is stored, useless without the key."""
    return hmac.new(pin_key, stretched, hashlib.sha256).digest()


def pin_key_from_template_key(template_key: bytes) -> bytes:
    """The proctor PIN key: derived (HMAC, its own label) from the device's template key,
    so it is sealed like every device secret and never stored beside the hashes."""
    return hmac.new(template_key, _PIN_KEY_INFO, hashlib.sha256).digest()


def pin_key_for(keys: DeviceKeys) -> bytes:
    """The PIN key of this device (unlocks the template key: keyring or passphrase)."""
    return pin_key_from_template_key(keys.template_key())


def check_pin_policy(pin: str) -> None:
    """PINs are 4–8 ASCII digits and not trivially guessable (all one digit, a run)."""
    if not isinstance(pin, str) or not re.fullmatch(r"[0-9]{4,8}", pin):
        raise PolicyViolation("PIN must be 4 to 8 digits")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise PolicyViolation("PIN is too easy to guess (repeated or consecutive digits)")


__all__ = [
    "PIN_KEY_BYTES",
    "check_pin_policy",
    "keyed",
    "pin_key_for",
    "pin_key_from_template_key",
    "stretch",
]
