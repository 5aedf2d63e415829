"""How the device's secret keys are protected at rest: OS keyring, passphrase seal, or
(demo only) plain text.

Why: the device private key signs every check-in and the template key decrypts the
applicants' biometric templates. A copy of the data directory (a stolen kiosk, a backup,
a technician's USB stick) must not carry them in a usable form. So a secret file under
``keys/`` is one of:

* a **keyring reference** (``-----BEGIN KIOSK KEYRING SECRET-----``): the secret lives in
  the OS keyring (`keyring` package; Secret Service, macOS Keychain, Windows Credential
  Locker); the file names the entry and the SHA-256 of the secret, so a swapped entry is
  refused;
* a **sealed secret** (``-----BEGIN KIOSK SEALED SECRET-----``): AES-256-GCM under a key
  derived with scrypt from a passphrase the technician sets (``KIOSK_KEY_PASSPHRASE`` or a
  prompt); the header (purpose, KDF parameters, salt, nonce) is the associated data, so a
  sealed template key cannot be passed off as a device key and the cost cannot be lowered;
* **plain text** (a PKCS#8 PEM or 32 raw bytes): the legacy format, written only when
  the config explicitly says ``[keys] protection = "plaintext-dev"`` (demo data dirs), and
  migrated to a protected form on the first load that has a keyring or a passphrase.

Which protection a *new* store gets is decided by `KeyPolicy`; an existing store keeps the
protection its files show (there is no silent downgrade). With no usable keyring, no
passphrase and no explicit plaintext flag, every load fails closed with `KeyStoreError`.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.errors import KeyStoreError

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "KIOSK_KEY_PASSPHRASE"
NEW_PASSPHRASE_ENV = "KIOSK_KEY_NEW_PASSPHRASE"
PROTECTION_ENV = "KIOSK_KEYS_PROTECTION"
KEYRING_SERVICE = "exam-door-kiosk"
MIN_PASSPHRASE_CHARS = 8

# scrypt cost: n=2**15, r=8 is ~32 MiB and ~0.1 s on the kiosk CPU (the OWASP floor for
# interactive logins); derived keys are cached per process so one unlock costs one KDF.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MIN_SCRYPT_N = 2**14  # files declaring less are refused: nobody may weaken a seal
_MAX_SCRYPT_N = 2**20  # nor make loading exhaust memory
_SALT = 16
_NONCE = 12

_SEALED_LABEL = "KIOSK SEALED SECRET"
_KEYRING_LABEL = "KIOSK KEYRING SECRET"


class Protection(StrEnum):
    """How one secret file is stored."""

    KEYRING = "keyring"
    PASSPHRASE = "passphrase"
    PLAINTEXT = "plaintext"


class ProtectionSetting(StrEnum):
    """The ``[keys] protection`` config value: what a new or legacy store should get."""

    AUTO = "auto"  # keyring if usable, else passphrase, else refuse
    KEYRING = "keyring"
    PASSPHRASE = "passphrase"
    PLAINTEXT_DEV = "plaintext-dev"  # demo/dev data dirs only; logs a loud warning


PROTECTION_CHOICES = tuple(s.value for s in ProtectionSetting)


def _env_passphrase(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value else None


def _tty() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class KeyPolicy:
    """Where secrets go and how to unlock them. Build with `from_environ`/`from_config`.

    `passphrase` is called at most once per policy (the answer is kept) and returns None
    when no passphrase can be had; `confirm=True` asks twice (a new seal).
    """

    protection: ProtectionSetting = ProtectionSetting.AUTO
    passphrase: Callable[[bool], str | None] = field(default=lambda confirm: None, repr=False)
    keyring_service: str = KEYRING_SERVICE
    _cached: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        protection: str | None = None,
        interactive: bool | None = None,
    ) -> KeyPolicy:
        """Policy from ``KIOSK_KEYS_PROTECTION`` and ``KIOSK_KEY_PASSPHRASE`` (else a prompt on
        a terminal). Used when a caller has no config object at hand."""
        environ = os.environ if environ is None else environ
        raw = protection or environ.get(PROTECTION_ENV) or ProtectionSetting.AUTO.value
        try:
            setting = ProtectionSetting(raw)
        except ValueError:
            raise KeyStoreError(
                f"key protection {raw!r} is not one of {', '.join(PROTECTION_CHOICES)}"
            ) from None
        prompt = _tty() if interactive is None else interactive

        def source(confirm: bool) -> str | None:
            value = _env_passphrase(environ, PASSPHRASE_ENV)
            if value is not None or not prompt:
                return value
            return prompt_passphrase("device key passphrase: ", confirm=confirm)

        return cls(protection=setting, passphrase=source)

    @classmethod
    def from_config(cls, cfg: Any, environ: Mapping[str, str] | None = None) -> KeyPolicy:
        """Policy from the config's ``[keys]`` section (env overrides already applied)."""
        keys_cfg = getattr(cfg, "keys", None)
        protection = getattr(keys_cfg, "protection", None)
        return cls.from_environ(environ, protection=protection)

    @classmethod
    def plaintext_for_demo(cls) -> KeyPolicy:
        """For throw-away demo data dirs: plain-text keys, with a loud warning on each load."""
        return cls(protection=ProtectionSetting.PLAINTEXT_DEV)

    def get_passphrase(self, *, confirm: bool = False) -> str | None:
        if self._cached is None:
            self._cached = self.passphrase(confirm)
        return self._cached


def prompt_passphrase(prompt: str, *, confirm: bool) -> str | None:
    """Ask on the terminal (no echo); twice when `confirm`, so a typo cannot lock a kiosk."""
    try:
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != first:
            raise KeyStoreError("the two passphrases differ")
    except (EOFError, OSError):
        return None
    return first or None


# --- the OS keyring -----------------------------------------------------------------------


_keyring_probe: dict[str, bool] = {}
_keyring_lock = threading.Lock()


def keyring_usable() -> bool:
    """True when `keyring` has a real backend that stores and returns a probe secret.

    The fail and null backends (and a chainer with nothing in it) are what `keyring`
    picks on a headless machine; writing a secret there would lose it or raise, so they
    count as "no keyring" and the passphrase seal is used instead.
    """
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        return False
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    with _keyring_lock:
        if name in _keyring_probe:
            return _keyring_probe[name]
        usable = not isinstance(backend, fail.Keyring | null.Keyring)
        if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
            usable = False
        if usable:
            probe = f"probe-{os.urandom(6).hex()}"
            try:
                backend.set_password(KEYRING_SERVICE, probe, "ok")
                usable = backend.get_password(KEYRING_SERVICE, probe) == "ok"
                backend.delete_password(KEYRING_SERVICE, probe)
            except Exception as exc:  # any backend failure means "not usable here"
                log.info("keyring backend %s is not usable: %s", name, exc)
                usable = False
        _keyring_probe[name] = usable
    return usable


def _keyring() -> Any:
    import keyring

    return keyring


def _keyring_store(service: str, secret: bytes) -> str:
    username = f"kiosk-secret-{os.urandom(8).hex()}"
    try:
        _keyring().set_password(service, username, base64.b64encode(secret).decode("ascii"))
    except Exception as exc:
        raise KeyStoreError(f"cannot store a key in the OS keyring: {exc}") from None
    return username


def keyring_forget(reference: bytes) -> None:
    """Delete the keyring entry a reference file names (best effort: rotation, discard)."""
    try:
        doc = _unarmour(reference, _KEYRING_LABEL)
        _keyring().delete_password(str(doc["service"]), str(doc["username"]))
    except Exception as exc:  # the entry may already be gone; never block a rotation
        log.info("could not delete a keyring entry: %s", exc)


# --- scrypt + AES-GCM seal ------------------------------------------------------------------


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


def _armour(label: str, doc: dict[str, Any]) -> bytes:
    body = base64.b64encode(json.dumps(doc, sort_keys=True).encode("utf-8")).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"
    ).encode("ascii")


def _unarmour(data: bytes, label: str) -> dict[str, Any]:
    try:
        text = data.decode("ascii").strip()
        begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
        if not (text.startswith(begin) and text.endswith(end)):
            raise ValueError("wrong armour")
        inner = "".join(text[len(begin) : -len(end)].split())
        doc = json.loads(base64.b64decode(inner, validate=True))
    except (UnicodeDecodeError, ValueError, binascii.Error) as exc:
        raise KeyStoreError(f"unreadable {label.lower()} ({exc})") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise KeyStoreError(f"unsupported {label.lower()} format")
    return doc


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
    return _armour(_SEALED_LABEL, {**header, "ct": base64.b64encode(ct).decode("ascii")})


def _unseal_passphrase(doc: dict[str, Any], purpose: str, passphrase: str, where: str) -> bytes:
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
        doc = _unarmour(data, _SEALED_LABEL)
        return base64.b64decode(doc["salt"], validate=True), int(doc["n"])
    except (KeyStoreError, KeyError, TypeError, ValueError, binascii.Error):
        return None


# --- one secret file ----------------------------------------------------------------------------


def detect(data: bytes) -> Protection:
    """Which protection a secret file's bytes show (plain text when no armour matches)."""
    head = data[:64]
    if head.startswith(f"-----BEGIN {_SEALED_LABEL}-----".encode()):
        return Protection.PASSPHRASE
    if head.startswith(f"-----BEGIN {_KEYRING_LABEL}-----".encode()):
        return Protection.KEYRING
    return Protection.PLAINTEXT


def resolve_new_protection(policy: KeyPolicy) -> Protection:
    """The protection a new (or legacy plain-text) store gets under `policy`; fails closed."""
    setting = policy.protection
    if setting is ProtectionSetting.PLAINTEXT_DEV:
        return Protection.PLAINTEXT
    if setting in (ProtectionSetting.AUTO, ProtectionSetting.KEYRING) and keyring_usable():
        return Protection.KEYRING
    if setting is ProtectionSetting.KEYRING:
        raise KeyStoreError(
            "[keys] protection = keyring, but no usable OS keyring backend was found",
            code="key_protection_unavailable",
        )
    passphrase = policy.get_passphrase(confirm=True)
    if passphrase is not None:
        if len(passphrase) < MIN_PASSPHRASE_CHARS:
            raise KeyStoreError(
                f"the key passphrase must be at least {MIN_PASSPHRASE_CHARS} characters"
            )
        return Protection.PASSPHRASE
    raise KeyStoreError(
        "refusing to keep device keys in plain text: no usable OS keyring and no passphrase. "
        f"Set {PASSPHRASE_ENV} (or run on a terminal to be asked), or, for a demo data dir "
        'only, [keys] protection = "plaintext-dev"',
        code="key_protection_unavailable",
    )


def encode_secret(
    secret: bytes,
    purpose: str,
    protection: Protection,
    policy: KeyPolicy,
    *,
    plaintext: bytes,
    salt_hint: tuple[bytes, int] | None = None,
) -> bytes:
    """The bytes to write for `secret` under `protection` (`plaintext` is the legacy form)."""
    if protection is Protection.PLAINTEXT:
        return plaintext
    if protection is Protection.KEYRING:
        username = _keyring_store(policy.keyring_service, secret)
        doc = {
            "v": 1,
            "scheme": Protection.KEYRING.value,
            "purpose": purpose,
            "service": policy.keyring_service,
            "username": username,
            "sha256": hashlib.sha256(secret).hexdigest(),
        }
        return _armour(_KEYRING_LABEL, doc)
    passphrase = policy.get_passphrase(confirm=True)
    if passphrase is None:
        raise KeyStoreError(
            f"this key store is sealed with a passphrase; set {PASSPHRASE_ENV}",
            code="key_passphrase_missing",
        )
    salt, n = salt_hint if salt_hint is not None else (None, SCRYPT_N)
    return seal_with_passphrase(secret, purpose, passphrase, salt=salt, n=n)


def decode_secret(data: bytes, purpose: str, policy: KeyPolicy, where: str) -> bytes | None:
    """The secret a protected file holds; None for a plain-text file (the caller parses it).

    Raises KeyStoreError when the keyring entry is gone or changed, the passphrase is
    missing or wrong, or the file is malformed.
    """
    protection = detect(data)
    if protection is Protection.PLAINTEXT:
        return None
    if protection is Protection.KEYRING:
        doc = _unarmour(data, _KEYRING_LABEL)
        if doc.get("purpose") != purpose:
            raise KeyStoreError(f"{where}: keyring reference is not a {purpose}")
        try:
            stored = _keyring().get_password(str(doc["service"]), str(doc["username"]))
        except Exception as exc:
            raise KeyStoreError(f"{where}: the OS keyring cannot be read ({exc})") from None
        if stored is None:
            raise KeyStoreError(
                f"{where}: the keyring entry {doc.get('username')} is missing (another user, "
                "or a wiped keyring)",
                code="key_keyring_missing",
            )
        try:
            secret = base64.b64decode(stored, validate=True)
        except (binascii.Error, ValueError):
            raise KeyStoreError(f"{where}: the keyring entry is not a key") from None
        if hashlib.sha256(secret).hexdigest() != doc.get("sha256"):
            raise KeyStoreError(f"{where}: the keyring entry was replaced by another secret")
        return secret
    doc = _unarmour(data, _SEALED_LABEL)
    passphrase = policy.get_passphrase(confirm=False)
    if passphrase is None:
        raise KeyStoreError(
            f"{where} is sealed with a passphrase; set {PASSPHRASE_ENV} or run on a terminal "
            "to be asked",
            code="key_passphrase_missing",
        )
    return _unseal_passphrase(doc, purpose, passphrase, where)


def warn_plaintext(where: object) -> None:
    """Say loudly, on every load, that keys are in plain text (demo/dev only)."""
    log.warning(
        "INSECURE: device keys in %s are stored in PLAIN TEXT ([keys] protection = "
        "plaintext-dev). Acceptable for a throw-away demo data dir only, never at an exam door.",
        where,
    )


__all__ = [
    "KEYRING_SERVICE",
    "NEW_PASSPHRASE_ENV",
    "PASSPHRASE_ENV",
    "PROTECTION_CHOICES",
    "PROTECTION_ENV",
    "KeyPolicy",
    "Protection",
    "ProtectionSetting",
    "decode_secret",
    "detect",
    "encode_secret",
    "keyring_forget",
    "keyring_usable",
    "prompt_passphrase",
    "resolve_new_protection",
    "seal_with_passphrase",
    "sealed_salt",
    "warn_plaintext",
]
