"""RFC 8785 canonical JSON, record ids (UUIDv7) and record timestamps.

Signatures, the hash chain and roster signatures are all computed over canonical bytes,
so any two parties (kiosk, centre, an auditor in another language) get identical bytes
for equal data.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

import rfc8785

from kiosk.protocol.errors import RecordFormatError

_UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def canonical_json(obj: Any) -> bytes:
    """Serialise `obj` per RFC 8785 (JCS): sorted keys, no whitespace, UTF-8, ECMAScript numbers.

    Signatures and the hash chain are computed over these bytes, so any two parties
    (kiosk, centre, an auditor in another language) get identical bytes for equal data.
    NaN/Infinity, integers beyond ±(2**53-1) and non-JSON types are refused.
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise RecordFormatError(f"value cannot be canonicalised as JSON: {exc}") from None


_MAX_SAFE_FLOAT = float(2**53)
_JCS_EXPONENT_FROM = 1e21  # from here on JCS writes an exponent, which parses back as float


def refuse_unreadable_numbers(obj: Any) -> None:
    """Refuse whole-number floats in [2**53, 1e21): JCS writes them as integer literals
    (2.0**53 → 9007199254740992) that parse back outside the safe-integer domain, so a
    record holding one would sign today and read back as "tampered" forever after."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if _MAX_SAFE_FLOAT <= abs(item) < _JCS_EXPONENT_FROM and item.is_integer():
                raise RecordFormatError(
                    f"number {item!r} is beyond the range JSON can carry exactly (±2**53)"
                )
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


_uuid_lock = threading.Lock()
_uuid_last_ms = -1
_uuid_counter = 0


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter, then randomness.

    Time-ordered ids keep SQLite indexes compact and make exports sort by creation; the
    per-millisecond counter (method 1 of RFC 9562 §6.2) keeps ids from one process
    strictly increasing even within a millisecond.
    """
    global _uuid_last_ms, _uuid_counter
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms > _uuid_last_ms:
            _uuid_last_ms = ms
            _uuid_counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave headroom
        else:
            ms = _uuid_last_ms
            _uuid_counter += 1
            if _uuid_counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _uuid_last_ms += 1
                ms = _uuid_last_ms
                _uuid_counter = 0
        counter = _uuid_counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def format_ts(dt: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a 'Z', the only timestamp form in records."""
    if dt.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(ts: str) -> datetime:
    """Parse a record timestamp strictly (`YYYY-MM-DDTHH:MM:SS.mmmZ`); RecordFormatError if not."""
    if not isinstance(ts, str) or not _TS_RE.match(ts):
        raise RecordFormatError(f"bad ts {ts!r}: expected YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise RecordFormatError(f"bad ts {ts!r}: not a real date/time") from None


def now_ts() -> str:
    """The current UTC time as a record timestamp."""
    return format_ts(datetime.now(UTC))


def is_uuid7(value: object) -> bool:
    """True for a lowercase canonical UUIDv7 string with the RFC 9562 variant bits."""
    return isinstance(value, str) and bool(_UUID7_RE.match(value))


__all__ = [
    "canonical_json",
    "format_ts",
    "is_uuid7",
    "now_ts",
    "parse_ts",
    "refuse_unreadable_numbers",
    "uuid7",
]
