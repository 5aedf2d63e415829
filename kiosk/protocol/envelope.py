"""Record format v1 and its envelope: the signed unit of the ledger and of ingest.

A record is RFC 8785 canonical JSON::

    {"v":1,"type":…,"id":UUIDv7,"device":…,"seq":n,"ts":"…Z","prev":hex|null,"body":{…}}

and its envelope is ``{"record": …, "sig": base64(Ed25519(device key, canonical record))}``.
``prev`` is the SHA-256 of the previous *envelope's* canonical bytes (`Envelope.digest`),
computed here and only here, so the kiosk appending and any verifier checking agree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.protocol.canonical import (
    canonical_json,
    is_uuid7,
    now_ts,
    parse_ts,
    refuse_unreadable_numbers,
    uuid7,
)
from kiosk.protocol.errors import RecordFormatError, SignatureInvalid

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
_RECORD_KEYS = frozenset({"v", "type", "id", "device", "seq", "ts", "prev", "body"})
_ENVELOPE_KEYS = frozenset({"record", "sig"})
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_SIG_LEN = 64


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
        """The exact bytes the device key signs (computed once: a record is immutable, and
        pure-Python JCS is the dominant cost of verifying and ingesting)."""
        return self._canonical

    @cached_property
    def _canonical(self) -> bytes:
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

    def __post_init__(self) -> None:
        _check_sig(self.sig)

    def canonical(self) -> bytes:
        """Canonical envelope bytes, framed around the record's canonical bytes.

        RFC 8785 sorts keys ("record" < "sig") and a canonical base64 signature (checked in
        `__post_init__`) needs no escaping, so the envelope is a fixed frame around the
        record bytes: no second canonicalisation. `test_ledger_records` pins this equal to
        `canonical_json(self.to_dict())`.
        """
        return envelope_bytes(self.record.canonical(), self.sig)

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
        return cls(record=Record.from_dict(d["record"]), sig=d["sig"])


def _check_sig(sig: object) -> None:
    if not isinstance(sig, str):
        raise RecordFormatError("bad sig: expected a base64 string")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise RecordFormatError("bad sig: not valid base64") from None
    if len(raw) != _SIG_LEN or base64.b64encode(raw).decode("ascii") != sig:
        raise RecordFormatError("bad sig: expected canonical base64 of a 64-byte signature")


def envelope_bytes(record_canonical: bytes, sig: str) -> bytes:
    """Canonical envelope bytes from the record's canonical bytes and a canonical sig."""
    return b'{"record":' + record_canonical + b',"sig":"' + sig.encode("ascii") + b'"}'


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


__all__ = [
    "RECORD_TYPES",
    "RECORD_VERSION",
    "Envelope",
    "Record",
    "envelope_bytes",
    "new_record",
    "sign_record",
    "verify_envelope",
]
