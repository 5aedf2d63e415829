"""Secrets kept in the OS keyring (Secret Service, macOS Keychain, Windows Credential
Locker) through the `keyring` package; the file under ``keys/`` only names the entry and
the SHA-256 of the secret, so a swapped entry is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import threading
from typing import Any

from kiosk.errors import KeyStoreError
from kiosk.ledger.sealed_secret import KEYRING_LABEL, Protection, armour, unarmour

log = logging.getLogger(__name__)

KEYRING_SERVICE = "exam-door-kiosk"

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
        doc = unarmour(reference, KEYRING_LABEL)
        _keyring().delete_password(str(doc["service"]), str(doc["username"]))
    except Exception as exc:  # the entry may already be gone; never block a rotation
        log.info("could not delete a keyring entry: %s", exc)


def keyring_reference(secret: bytes, purpose: str, service: str) -> bytes:
    """Store `secret` in the keyring; returns the reference file's bytes."""
    username = _keyring_store(service, secret)
    doc = {
        "v": 1,
        "scheme": Protection.KEYRING.value,
        "purpose": purpose,
        "service": service,
        "username": username,
        "sha256": hashlib.sha256(secret).hexdigest(),
    }
    return armour(KEYRING_LABEL, doc)


def keyring_secret(data: bytes, purpose: str, where: str) -> bytes:
    """The secret a keyring reference file names; KeyStoreError when the entry is gone,
    unreadable, or not the secret the reference was written for."""
    doc = unarmour(data, KEYRING_LABEL)
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


__all__ = [
    "KEYRING_SERVICE",
    "keyring_forget",
    "keyring_reference",
    "keyring_secret",
    "keyring_usable",
]
