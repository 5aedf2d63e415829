"""Signed device requests: how a kiosk proves to the centre which door is talking.

Why signed requests and not a bearer token
-----------------------------------------
Every kiosk already holds an Ed25519 key that signs its ledger, and the centre already
pins the public half at enrolment. Signing each request with that key means:

* the centre stores **no shared secret**: a leaked centre database (or backup) does not let
  anyone impersonate a door, whereas a token table would;
* there is nothing extra to provision, rotate or lose on the kiosk; revoking the device
  at the centre revokes its requests;
* the signature covers method, path, device id, a timestamp and the SHA-256 of the body,
  so a captured request cannot be re-aimed at another device or altered in flight, and a
  timestamp window (default ±5 min) bounds replay. Replaying an ingest inside the window
  is harmless because ingest is idempotent (same record id → stored once).

The string to sign is newline-joined, ASCII only::

    kiosk-request-v1
    <METHOD>
    <path?query>
    <device id>
    <unix timestamp, integer seconds>
    <hex sha256 of the body bytes>

This module is shared by the kiosk's sync client (signing) and the centre (verifying),
so the two can never disagree on the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.protocol.errors import RequestAuthError

SCHEME = "kiosk-request-v1"
HEADER_DEVICE = "X-Kiosk-Device"
HEADER_TIMESTAMP = "X-Kiosk-Timestamp"
HEADER_SIGNATURE = "X-Kiosk-Signature"
# Seconds until the year 33658; anything longer is not a timestamp.
MAX_TIMESTAMP_DIGITS = 12


def string_to_sign(method: str, path: str, device_id: str, timestamp: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    parts = [SCHEME, method.upper(), path, device_id, str(int(timestamp)), digest]
    return "\n".join(parts).encode("utf-8")


def sign_request(
    private_key: Ed25519PrivateKey,
    device_id: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    now: float | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request from `device_id`."""
    ts = int(time.time() if now is None else now)
    sig = private_key.sign(string_to_sign(method, path, device_id, ts, body))
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: base64.b64encode(sig).decode("ascii"),
    }


def parse_auth_headers(headers: Mapping[str, str]) -> tuple[str, int, bytes]:
    """(device id, timestamp, signature) from request headers, or `RequestAuthError`."""
    device = headers.get(HEADER_DEVICE) or headers.get(HEADER_DEVICE.lower())
    ts_text = headers.get(HEADER_TIMESTAMP) or headers.get(HEADER_TIMESTAMP.lower())
    sig_text = headers.get(HEADER_SIGNATURE) or headers.get(HEADER_SIGNATURE.lower())
    if not device or not ts_text or not sig_text:
        raise RequestAuthError("request is not signed by a device", code="unsigned_request")
    # Unix seconds in plain ASCII digits: int() would also take "1_700_000_000", Arabic-Indic
    # digits or 4000 digits, and a huge one overflows the float clock arithmetic (a 500).
    if not (ts_text.isascii() and ts_text.isdigit() and len(ts_text) <= MAX_TIMESTAMP_DIGITS):
        raise RequestAuthError(
            f"request timestamp is not a Unix time in seconds (at most {MAX_TIMESTAMP_DIGITS} "
            "digits)",
            code="bad_timestamp",
        )
    ts = int(ts_text)
    try:
        sig = base64.b64decode(sig_text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestAuthError("request signature is not base64", code="bad_signature") from None
    return device, ts, sig


def verify_request(
    public_key: Ed25519PublicKey,
    device_id: str,
    timestamp: int,
    signature: bytes,
    method: str,
    path: str,
    body: bytes,
    *,
    window_s: float,
    now: float | None = None,
) -> None:
    """Raise `RequestAuthError` unless the request is fresh and signed by `public_key`."""
    now = time.time() if now is None else now
    if abs(now - timestamp) > window_s:
        raise RequestAuthError(
            f"request timestamp is {now - timestamp:+.0f} s from the centre clock "
            f"(window ±{window_s:.0f} s); check the kiosk clock",
            code="stale_request",
        )
    try:
        public_key.verify(signature, string_to_sign(method, path, device_id, timestamp, body))
    except InvalidSignature:
        raise RequestAuthError("request signature does not verify", code="bad_signature") from None


__all__ = [
    "HEADER_DEVICE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SCHEME",
    "RequestAuthError",
    "parse_auth_headers",
    "sign_request",
    "string_to_sign",
    "verify_request",
]
