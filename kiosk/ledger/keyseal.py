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

The file formats live in `kiosk.ledger.sealed_secret` (armour, scrypt seal) and
`kiosk.ledger.os_keyring` (keyring references); this module is the policy over them.
Which protection a *new* store gets is decided by `KeyPolicy`; an existing store keeps the
protection its files show (there is no silent downgrade). With no usable keyring, no
passphrase and no explicit plaintext flag, every load fails closed with `KeyStoreError`.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk.errors import KeyStoreError
from kiosk.ledger.os_keyring import (
    KEYRING_SERVICE,
    keyring_reference,
    keyring_secret,
    keyring_usable,
)
from kiosk.ledger.sealed_secret import (
    SCRYPT_N,
    SEALED_LABEL,
    Protection,
    detect,
    seal_with_passphrase,
    unarmour,
    unseal_passphrase,
)

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "KIOSK_KEY_PASSPHRASE"

NEW_PASSPHRASE_ENV = "KIOSK_KEY_NEW_PASSPHRASE"

PROTECTION_ENV = "KIOSK_KEYS_PROTECTION"

MIN_PASSPHRASE_CHARS = 8


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
        return keyring_reference(secret, purpose, policy.keyring_service)
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
        return keyring_secret(data, purpose, where)
    doc = unarmour(data, SEALED_LABEL)
    passphrase = policy.get_passphrase(confirm=False)
    if passphrase is None:
        raise KeyStoreError(
            f"{where} is sealed with a passphrase; set {PASSPHRASE_ENV} or run on a terminal "
            "to be asked",
            code="key_passphrase_missing",
        )
    return unseal_passphrase(doc, purpose, passphrase, where)


def warn_plaintext(where: object) -> None:
    """Say loudly, on every load, that keys are in plain text (demo/dev only)."""
    log.warning(
        "INSECURE: device keys in %s are stored in PLAIN TEXT ([keys] protection = "
        "plaintext-dev). Acceptable for a throw-away demo data dir only, never at an exam door.",
        where,
    )


__all__ = [
    "NEW_PASSPHRASE_ENV",
    "PASSPHRASE_ENV",
    "PROTECTION_CHOICES",
    "PROTECTION_ENV",
    "KeyPolicy",
    "Protection",
    "ProtectionSetting",
    "decode_secret",
    "encode_secret",
    "prompt_passphrase",
    "resolve_new_protection",
    "warn_plaintext",
]
