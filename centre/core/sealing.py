"""The centre's secrets at rest: sealed under the operator's passphrase, never plain.

Why: the centre's roster-signing key decides which rosters every kiosk accepts, and the
roster-storage key decrypts the enrolment templates the centre keeps until a session's
retention ends. A copy of the centre's data folder (a backup, a disk image) must not
carry either in a usable form. Each is a small JSON file: AES-256-GCM under a key derived
with scrypt (n=2^15, r=8) from the passphrase in ``KIOSK_CENTRE_KEY_PASSPHRASE`` (or, on
a single-machine set-up, ``KIOSK_KEY_PASSPHRASE``); the header (purpose, KDF parameters,
salt, nonce) is the associated data, so a file cannot be passed off as another purpose
and the cost cannot be lowered. No passphrase: the centre refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from centre.errors import CentreKeyError

PASSPHRASE_ENVS = ("KIOSK_CENTRE_KEY_PASSPHRASE", "KIOSK_KEY_PASSPHRASE")
MIN_PASSPHRASE_CHARS = 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MIN_N, _MAX_N = 2**14, 2**20
_HEADER_KEYS = ("v", "purpose", "kdf", "n", "r", "p", "salt", "nonce")
_kek_cache: dict[tuple[bytes, bytes, int, int, int], bytes] = {}


def centre_passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The operator's passphrase; CentreKeyError (a clear refusal) when none is set."""
    env = os.environ if environ is None else environ
    for name in PASSPHRASE_ENVS:
        value = env.get(name)
        if value:
            if len(value) < MIN_PASSPHRASE_CHARS:
                raise CentreKeyError(f"{name} must be at least {MIN_PASSPHRASE_CHARS} characters")
            return value
    raise CentreKeyError(
        "the centre keeps its signing and roster keys sealed: set KIOSK_CENTRE_KEY_PASSPHRASE",
        code="key_passphrase_missing",
    )


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not (_MIN_N <= n <= _MAX_N) or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 4:
        raise CentreKeyError(f"sealed file declares unacceptable scrypt parameters n={n} r={r}")
    ident = (hashlib.sha256(passphrase.encode()).digest(), salt, n, r, p)
    if ident not in _kek_cache:
        _kek_cache[ident] = hashlib.scrypt(
            passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + 2**20, dklen=32
        )
    return _kek_cache[ident]


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def seal(secret: bytes, purpose: str, passphrase: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    header: dict[str, Any] = {
        "v": 1,
        "purpose": purpose,
        "kdf": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode(),
        "nonce": base64.b64encode(nonce).decode(),
    }
    ct = AESGCM(_kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, secret, _aad(header)
    )
    return (json.dumps({**header, "ct": base64.b64encode(ct).decode()}, indent=1) + "\n").encode()


def unseal(data: bytes, purpose: str, passphrase: str, where: object) -> bytes:
    try:
        doc = json.loads(data)
        header = {k: doc[k] for k in _HEADER_KEYS}
        salt = base64.b64decode(header["salt"], validate=True)
        nonce = base64.b64decode(header["nonce"], validate=True)
        ct = base64.b64decode(doc["ct"], validate=True)
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise CentreKeyError(f"{where}: not a sealed centre secret") from None
    if header["purpose"] != purpose or header["kdf"] != "scrypt" or header["v"] != 1:
        raise CentreKeyError(f"{where}: sealed file is not a {purpose}")
    try:
        return AESGCM(_kek(passphrase, salt, n, r, p)).decrypt(nonce, ct, _aad(header))
    except InvalidTag:
        raise CentreKeyError(
            f"{where}: wrong centre key passphrase (or the sealed file was altered)",
            code="key_passphrase_wrong",
        ) from None


__all__ = ["PASSPHRASE_ENVS", "centre_passphrase", "seal", "unseal"]
