"""Ledger record format v1: canonical JSON, Ed25519 envelopes and the hash chain.

This module is the one source of truth for the record schema; the kiosk store and the
centre's ingest both parse with `Envelope.from_dict` and check continuity with
`verify_chain`, so the two sides can never disagree about what a valid record is.

A record is RFC 8785 canonical JSON::

    {"v":1,"type":…,"id":UUIDv7,"device":…,"seq":n,"ts":"…Z","prev":hex|null,"body":{…}}

and its envelope is ``{"record": …, "sig": base64(Ed25519(device key, canonical record))}``.
``prev`` is the SHA-256 of the previous *envelope's* canonical bytes, so editing,
deleting or reordering any record breaks either a signature or the chain.

Key rotation is carried by the chain itself: a ``device_event`` record with
``body.event == "key_rotated"``, signed by the old key, names the new public key and
the seq from which it signs. `verify_chain` follows it, so a verifier only needs the
key the chain started with (or the key in force at ``expected_seq``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.errors import LedgerTampered, RecordFormatError, SignatureInvalid

RECORD_VERSION = 1
RECORD_TYPES = (
    "checkin",
    "override",
    "session_open",
    "session_close",
    "roster_loaded",
    "calibration",
    "device_event",
)
# body.event of the device_event that hands signing over to a new device key.
KEY_ROTATED_EVENT = "key_rotated"

_RECORD_KEYS = frozenset({"v", "type", "id", "device", "seq", "ts", "prev", "body"})
_ENVELOPE_KEYS = frozenset({"record", "sig"})
_UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_SIG_LEN = 64


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
    return format_ts(datetime.now(UTC))


def is_uuid7(value: object) -> bool:
    """True for a lowercase canonical UUIDv7 string with the RFC 9562 variant bits."""
    return isinstance(value, str) and bool(_UUID7_RE.match(value))


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_record_fields(
    v: object,
    rtype: object,
    rid: object,
    device: object,
    seq: object,
    ts: object,
    prev: object,
    body: object,
) -> None:
    if not _is_int(v) or v != RECORD_VERSION:
        raise RecordFormatError(f"unsupported record version {v!r} (expected {RECORD_VERSION})")
    if not isinstance(rtype, str) or rtype not in RECORD_TYPES:
        raise RecordFormatError(f"unknown record type {rtype!r}")
    if not is_uuid7(rid):
        raise RecordFormatError(f"bad record id {rid!r}: expected a lowercase UUIDv7")
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise RecordFormatError(f"bad device id {device!r}")
    if not _is_int(seq) or not 1 <= seq <= 2**53 - 1:
        raise RecordFormatError(f"bad seq {seq!r}: expected an integer >= 1")
    parse_ts(ts)  # type: ignore[arg-type]
    if prev is not None and (not isinstance(prev, str) or not _HEX64_RE.match(prev)):
        raise RecordFormatError(f"bad prev {prev!r}: expected null or 64 lowercase hex digits")
    if not isinstance(body, dict):
        raise RecordFormatError(f"bad body: expected an object, got {type(body).__name__}")
    canonical_json(body)  # refuses NaN, huge ints, non-JSON values


@dataclass(frozen=True)
class Record:
    """One ledger entry before signing. Build with `new_record`, never by hand-made dicts."""

    v: int
    type: str
    id: str
    device: str
    seq: int
    ts: str
    prev: str | None
    body: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        _check_record_fields(
            self.v, self.type, self.id, self.device, self.seq, self.ts, self.prev, self.body
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "type": self.type,
            "id": self.id,
            "device": self.device,
            "seq": self.seq,
            "ts": self.ts,
            "prev": self.prev,
            "body": self.body,
        }

    def canonical(self) -> bytes:
        """The exact bytes the device key signs."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: object) -> Record:
        """Strict parse: exactly the v1 fields with the right types, else RecordFormatError."""
        if not isinstance(d, dict):
            raise RecordFormatError("record must be a JSON object")
        _exact_keys(d, _RECORD_KEYS, "record")
        return cls(**d)


@dataclass(frozen=True)
class Envelope:
    """A record plus the device's signature; its digest is the next record's ``prev``."""

    record: Record
    sig: str

    def to_dict(self) -> dict[str, Any]:
        return {"record": self.record.to_dict(), "sig": self.sig}

    def canonical(self) -> bytes:
        return canonical_json(self.to_dict())

    def digest(self) -> str:
        """Hex SHA-256 of the canonical envelope: what the following record puts in ``prev``."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_dict(cls, d: object) -> Envelope:
        """Strict parse of ``{"record": …, "sig": …}``; RecordFormatError names what is wrong.

        The signature must be canonical base64 of exactly 64 bytes, so an envelope has one
        byte form and one digest (no malleable padding or whitespace).
        """
        if not isinstance(d, dict):
            raise RecordFormatError("envelope must be a JSON object")
        _exact_keys(d, _ENVELOPE_KEYS, "envelope")
        record = Record.from_dict(d["record"])
        sig = d["sig"]
        if not isinstance(sig, str):
            raise RecordFormatError("bad sig: expected a base64 string")
        try:
            raw = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            raise RecordFormatError("bad sig: not valid base64") from None
        if len(raw) != _SIG_LEN or base64.b64encode(raw).decode("ascii") != sig:
            raise RecordFormatError("bad sig: expected canonical base64 of a 64-byte signature")
        return cls(record=record, sig=sig)


def _exact_keys(d: dict[str, Any], expected: frozenset[str], what: str) -> None:
    keys = set(d)
    missing = sorted(expected - keys)
    extra = sorted(str(k) for k in keys - expected)
    if missing:
        raise RecordFormatError(f"{what} is missing field(s): {', '.join(missing)}")
    if extra:
        raise RecordFormatError(f"{what} has unknown field(s): {', '.join(extra)}")


def new_record(
    type: str,
    body: dict[str, Any],
    *,
    device: str,
    seq: int,
    prev: str | None,
    ts: str | None = None,
) -> Record:
    """Build a v1 record with a fresh UUIDv7 and (by default) the current UTC time."""
    refuse_unreadable_numbers(body)
    return Record(
        v=RECORD_VERSION,
        type=type,
        id=uuid7(),
        device=device,
        seq=seq,
        ts=ts if ts is not None else now_ts(),
        prev=prev,
        body=body,
    )


def sign_record(record: Record, private_key: Ed25519PrivateKey) -> Envelope:
    """Sign the record's canonical bytes with the device key."""
    sig = private_key.sign(record.canonical())
    return Envelope(record=record, sig=base64.b64encode(sig).decode("ascii"))


def verify_envelope(env: Envelope, public_key: Ed25519PublicKey) -> None:
    """Raise SignatureInvalid unless `env.sig` is the key's signature over the record."""
    try:
        public_key.verify(base64.b64decode(env.sig), env.record.canonical())
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureInvalid(
            f"record seq {env.record.seq} (id {env.record.id}): signature does not verify"
        ) from None


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    """Raw 32-byte Ed25519 public key, base64: the form keys take in records and rosters."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _parse_public_key(value: object) -> Ed25519PublicKey:
    if not isinstance(value, str):
        raise ValueError("not a string")
    raw = base64.b64decode(value, validate=True)
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_rotation_body(
    old_public_key: Ed25519PublicKey, new_public_key: Ed25519PublicKey, effective_seq: int
) -> dict[str, Any]:
    """Body of the ``device_event`` that hands signing to `new_public_key` from `effective_seq`."""
    return {
        "event": KEY_ROTATED_EVENT,
        "old_public_key": public_key_b64(old_public_key),
        "new_public_key": public_key_b64(new_public_key),
        "effective_seq": effective_seq,
    }


@dataclass(frozen=True)
class KeyRotation:
    """A rotation seen in a verified chain: `public_key_b64` signs from `from_seq` on."""

    from_seq: int
    public_key_b64: str
    record_id: str


class ChainVerifier:
    """Incremental chain check, for callers that verify in batches and keep state between them.

    The centre keeps (`public_key`, `next_seq`, `prev`) per device and feeds each batch;
    after a rotation record `public_key` is already the new key. `verify_chain` is the
    one-shot form of this class.
    """

    def __init__(
        self,
        public_key: Ed25519PublicKey,
        *,
        device: str | None = None,
        expected_seq: int = 1,
        expected_prev: str | None = None,
    ) -> None:
        self.public_key = public_key
        self.device = device
        self.next_seq = expected_seq
        self.prev = expected_prev
        self.count = 0
        self.rotations: list[KeyRotation] = []

    def verify(self, envelopes: Iterable[Envelope]) -> int:
        """Verify envelopes in order; return how many passed, or raise LedgerTampered."""
        it = _Peekable(iter(envelopes))
        start = self.count
        for env in it:
            self._check(env, it)
        return self.count - start

    def _fail(self, env: Envelope, what: str) -> LedgerTampered:
        r = env.record
        return LedgerTampered(f"record seq {r.seq} (id {r.id}): {what}")

    def _check(self, env: Envelope, it: _Peekable) -> None:
        r = env.record
        if self.device is None:
            self.device = r.device
        elif r.device != self.device:
            raise self._fail(env, f"foreign device {r.device!r}, expected {self.device!r}")
        if r.seq != self.next_seq:
            raise self._fail(env, self._seq_problem(r.seq, it))
        try:
            verify_envelope(env, self.public_key)
        except SignatureInvalid:
            msg = "bad signature (record edited or signed by another key)"
            raise self._fail(env, msg) from None
        if r.prev != self.prev:
            raise self._fail(
                env,
                f"broken chain: prev {r.prev} does not match the digest of "
                f"seq {r.seq - 1} ({self.prev})",
            )
        if r.type == "device_event" and r.body.get("event") == KEY_ROTATED_EVENT:
            self._follow_rotation(env)
        self.prev = env.digest()
        self.next_seq = r.seq + 1
        self.count += 1

    def _seq_problem(self, seq: int, it: _Peekable) -> str:
        expected = self.next_seq
        if seq < expected:
            return f"reorder or replay: seq {seq} appears after seq {expected - 1}"
        nxt = it.peek()
        if nxt is not None and nxt.record.seq == expected:
            return f"reorder: found seq {seq} where seq {expected} was expected"
        missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
        return f"gap: {missing} missing"

    def _follow_rotation(self, env: Envelope) -> None:
        body = env.record.body
        try:
            new_key = _parse_public_key(body.get("new_public_key"))
        except (ValueError, binascii.Error):
            raise self._fail(env, "key rotation names an unreadable new public key") from None
        if body.get("effective_seq") != env.record.seq + 1:
            raise self._fail(env, "key rotation must take effect at the next seq")
        if body.get("old_public_key") != public_key_b64(self.public_key):
            raise self._fail(env, "key rotation names a different old key")
        self.public_key = new_key
        self.rotations.append(
            KeyRotation(env.record.seq + 1, body["new_public_key"], env.record.id)
        )


class _Peekable:
    """One-item lookahead, so a swapped pair is reported as a reorder, not a gap."""

    def __init__(self, it: Iterator[Envelope]) -> None:
        self._it = it
        self._buf: list[Envelope] = []

    def __iter__(self) -> _Peekable:
        return self

    def __next__(self) -> Envelope:
        if self._buf:
            return self._buf.pop()
        return next(self._it)

    def peek(self) -> Envelope | None:
        if not self._buf:
            try:
                self._buf.append(next(self._it))
            except StopIteration:
                return None
        return self._buf[0]


def verify_chain(
    envelopes: Iterable[Envelope],
    public_key: Ed25519PublicKey,
    *,
    device: str | None = None,
    expected_seq: int = 1,
    expected_prev: str | None = None,
) -> int:
    """Check signatures, device id, gap-free seq and prev linkage; return the count verified.

    Raises LedgerTampered naming the first bad record (seq and id) and what is wrong:
    foreign device, gap, reorder/replay, bad signature or broken chain. `public_key` is
    the key in force at `expected_seq`; key-rotation records in the chain are followed.
    With `device=None` the first record's device is expected throughout.
    """
    verifier = ChainVerifier(
        public_key, device=device, expected_seq=expected_seq, expected_prev=expected_prev
    )
    return verifier.verify(envelopes)


__all__ = [
    "KEY_ROTATED_EVENT",
    "RECORD_TYPES",
    "RECORD_VERSION",
    "ChainVerifier",
    "Envelope",
    "KeyRotation",
    "Record",
    "canonical_json",
    "format_ts",
    "is_uuid7",
    "key_rotation_body",
    "new_record",
    "now_ts",
    "parse_ts",
    "public_key_b64",
    "sign_record",
    "uuid7",
    "verify_chain",
    "verify_envelope",
]
