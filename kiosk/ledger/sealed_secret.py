"""The bytes of one protected secret file: armour, and the passphrase seal.

A secret file under ``keys/`` is a keyring reference, a passphrase-sealed blob or (demo
only) plain text; `detect` tells which from the first line. The seal is AES-256-GCM under
a key derived with scrypt from the technician's passphrase; the header (purpose, KDF
parameters, salt, nonce) is the associated data, so a sealed template key cannot be
passed off as a device key and nobody can lower the KDF cost. Policy (which protection a
store gets) lives in `kiosk.ledger.keyseal`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.errors import KeyStoreError
from kiosk.protocol.bounded_json import loads_bounded

# scrypt cost: n=2**15, r=8 is ~32 MiB and ~0.1 s on the kiosk CPU (the OWASP floor for
# interactive logins); derived keys are cached per process so one unlock costs one KDF.
SCRYPT_N = 2**15

SCRYPT_R = 8

SCRYPT_P = 1

_MIN_SCRYPT_N = 2**14  # files declaring less are refused: nobody may weaken a seal

_MAX_SCRYPT_N = 2**20  # nor make loading exhaust memory

_SALT = 16

_NONCE = 12

SEALED_LABEL = "KIOSK SEALED SECRET"
KEYRING_LABEL = "KIOSK KEYRING SECRET"


class Protection(StrEnum):
    """How one secret file is stored."""

    KEYRING = "keyring"
    PASSPHRASE = "passphrase"
    PLAINTEXT = "plaintext"


def armour(label: str, doc: dict[str, Any]) -> bytes:
    body = base64.b64encode(json.dumps(doc, sort_keys=True).encode("utf-8")).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"
    ).encode("ascii")


def unarmour(data: bytes, label: str) -> dict[str, Any]:
    try:
        text = data.decode("ascii").strip()
        begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
        if not (text.startswith(begin) and text.endswith(end)):
            raise ValueError("wrong armour")
        inner = "".join(text[len(begin) : -len(end)].split())
        doc = loads_bounded(base64.b64decode(inner, validate=True))
    except (UnicodeDecodeError, ValueError, binascii.Error) as exc:
        raise KeyStoreError(f"unreadable {label.lower()} ({exc})") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise KeyStoreError(f"unsupported {label.lower()} format")
    return doc


def detect(data: bytes) -> Protection:
    """Which protection a secret file's bytes show (plain text when no armour matches)."""
    head = data[:64]
    if head.startswith(f"-----BEGIN {SEALED_LABEL}-----".encode()):
        return Protection.PASSPHRASE
    if head.startswith(f"-----BEGIN {KEYRING_LABEL}-----".encode()):
        return Protection.KEYRING
    return Protection.PLAINTEXT


_kek_cache: dict[tuple[bytes, bytes, int, int, int], bytes] = {}

_kek_lock = threading.Lock()


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """scrypt(passphrase, salt) → 32-byte key; cached so rotation and reloads cost one KDF."""
    if not (_MIN_SCRYPT_N <= n <= _MAX_SCRYPT_N) or n & (n - 1) or not (1 <= r <= 32):
        raise KeyStoreError(f"sealed key declares unacceptable scrypt parameters n={n} r={r}")
    if not 1 <= p <= 4:
        raise KeyStoreError(f"sealed key declares unacceptable scrypt parameter p={p}")
    ident = (hashlib.sha256(passphrase.encode("utf-8")).digest(), salt, n, r, p)
    with _kek_lock:
        cached = _kek_cache.get(ident)
    if cached is not None:
        return cached
    key = hashlib.scrypt(
        passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + 2**20, dklen=32
    )
    with _kek_lock:
        _kek_cache[ident] = key
    return key


def _header_aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def seal_with_passphrase(
    secret: bytes, purpose: str, passphrase: str, *, salt: bytes | None = None, n: int = SCRYPT_N
) -> bytes:
    """Seal `secret` for `purpose` under `passphrase`; returns the armoured file bytes."""
    salt = os.urandom(_SALT) if salt is None else salt
    header: dict[str, Any] = {
        "v": 1,
        "scheme": Protection.PASSPHRASE.value,
        "purpose": purpose,
        "kdf": "scrypt",
        "n": n,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode("ascii"),
        "nonce": base64.b64encode(os.urandom(_NONCE)).decode("ascii"),
    }
    kek = _derive(passphrase, salt, n, SCRYPT_R, SCRYPT_P)
    nonce = base64.b64decode(header["nonce"])
    ct = AESGCM(kek).encrypt(nonce, secret, _header_aad(header))
    return armour(SEALED_LABEL, {**header, "ct": base64.b64encode(ct).decode("ascii")})


def unseal_passphrase(doc: dict[str, Any], purpose: str, passphrase: str, where: str) -> bytes:
    try:
        header = {
            k: doc[k] for k in ("v", "scheme", "purpose", "kdf", "n", "r", "p", "salt", "nonce")
        }
        ct = base64.b64decode(doc["ct"], validate=True)
        salt = base64.b64decode(header["salt"], validate=True)
        nonce = base64.b64decode(header["nonce"], validate=True)
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise KeyStoreError(f"{where}: sealed key header is malformed") from None
    if header["kdf"] != "scrypt" or header["purpose"] != purpose or len(nonce) != _NONCE:
        raise KeyStoreError(f"{where}: sealed file is not a {purpose}")
    kek = _derive(passphrase, salt, n, r, p)
    try:
        return AESGCM(kek).decrypt(nonce, ct, _header_aad(header))
    except InvalidTag:
        raise KeyStoreError(
            f"{where}: wrong key passphrase (or the sealed file was altered)",
            code="key_passphrase_wrong",
        ) from None


def sealed_salt(data: bytes) -> tuple[bytes, int] | None:
    """The (salt, n) of a passphrase-sealed file, so siblings share one KDF; else None."""
    if detect(data) is not Protection.PASSPHRASE:
        return None
    try:
        doc = unarmour(data, SEALED_LABEL)
        return base64.b64decode(doc["salt"], validate=True), int(doc["n"])
    except (KeyStoreError, KeyError, TypeError, ValueError, binascii.Error):
        return None


__all__ = [
    "KEYRING_LABEL",
    "SCRYPT_N",
    "SEALED_LABEL",
    "Protection",
    "armour",
    "detect",
    "seal_with_passphrase",
    "sealed_salt",
    "unarmour",
    "unseal_passphrase",
]
