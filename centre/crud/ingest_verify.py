"""Ingest, step 1: parse each envelope strictly and authenticate it.

Rules, in the order they are applied to each envelope in a batch:

1. it must parse strictly as an envelope (`malformed` otherwise);
2. `record.device` must be the device that sent the batch (`device_mismatch`: a record
   replayed from another door);
3. its signature must verify with the device key in force at its seq (`bad_signature`);
   key rotations are followed by the protocol's `ChainVerifier` in gap-tolerant mode,
   the same rules the kiosk's strict `kiosk ledger verify` applies;
4. its timestamp must not be ahead of the centre clock by more than the allowed skew
   (`from_future`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from kiosk.protocol.canonical import parse_ts
from kiosk.protocol.chain import ChainVerifier, KeyHistory, KeyRotation
from kiosk.protocol.envelope import Envelope
from kiosk.protocol.errors import ProtocolError

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"

# What a hostile or broken envelope can raise while being parsed.
FORMAT_ERRORS = (ProtocolError, ValueError, TypeError, KeyError, AttributeError)


@dataclass
class RecordResult:
    """The centre's answer for one envelope; the kiosk acks on accepted or duplicate."""

    index: int
    id: str | None
    seq: int | None
    status: str
    reason: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k in ("id", "seq")}


@dataclass(frozen=True)
class Refusal:
    """Why one envelope is refused; `incident` says whether staff should see it."""

    index: int
    id: str | None
    seq: int | None
    reason: str
    detail: str
    incident: bool = True


@dataclass
class Candidate:
    """An authentic envelope, with its digest and the canonical bytes stored as evidence."""

    index: int
    env: Envelope
    digest: str
    canonical: bytes


def clean(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "")[:limit]


def parse_envelope(index: int, raw: Any, device_id: str) -> Envelope | Refusal:
    """Rules 1 and 2: a strictly parsed envelope of this device, or the refusal."""
    if not isinstance(raw, dict):
        return Refusal(index, None, None, "malformed", "envelope is not a JSON object", False)
    try:
        env = Envelope.from_dict(raw)
    except FORMAT_ERRORS as exc:
        rec = raw.get("record")
        rid = rec.get("id") if isinstance(rec, dict) else None
        detail = f"not a valid envelope: {exc}"
        return Refusal(index, clean(rid, 64), None, "malformed", detail, False)
    rec = env.record
    if rec.device != device_id:
        detail = f"record belongs to device {rec.device!r}, sent by {device_id!r}"
        return Refusal(index, rec.id, rec.seq, "device_mismatch", detail)
    return env


class Authenticator:
    """Rules 3 and 4 for the envelopes of one batch, fed in seq order."""

    def __init__(
        self, device_id: str, keys: KeyHistory, *, now: datetime, max_future: datetime
    ) -> None:
        self.verifier = ChainVerifier(keys, device=device_id, allow_gaps=True)
        self.now = now
        self.max_future = max_future

    @property
    def rotations(self) -> dict[str, KeyRotation]:
        """Key hand-overs seen so far, by the id of the record that made them."""
        return {r.record_id: r for r in self.verifier.rotations}

    def check(self, index: int, env: Envelope) -> Candidate | Refusal:
        rec = env.record
        try:
            self.verifier.check(env)
        except ProtocolError:
            detail = (
                f"record seq {rec.seq} (id {rec.id}): signature does not verify with the device key"
            )
            return Refusal(index, rec.id, rec.seq, "bad_signature", detail)
        if parse_ts(rec.ts) > self.max_future:
            detail = (
                f"record time {rec.ts} is ahead of the centre clock "
                f"{self.now.isoformat(timespec='seconds')}"
            )
            return Refusal(index, rec.id, rec.seq, "from_future", detail)
        return Candidate(index, env, env.digest(), env.canonical())


def announced_keys(device_id: str, keys: KeyHistory, raw_envelopes: list[Any]) -> list[str]:
    """Keys handed over to by authentic `key_rotated` records in a batch.

    A kiosk that has just rotated signs its next request with the new key, which the
    centre only learns from the rotation record inside that very request; that record is
    signed by a key the centre already trusts, so it vouches for the request key.
    """
    envs = []
    for raw in raw_envelopes:
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("record"), dict)
            and raw["record"].get("type") == "device_event"
        ):
            continue
        try:
            env = Envelope.from_dict(raw)
        except FORMAT_ERRORS:
            continue
        if env.record.device == device_id:
            envs.append(env)
    verifier = ChainVerifier(keys, device=device_id, allow_gaps=True)
    for env in sorted(envs, key=lambda e: e.record.seq):
        try:
            verifier.check(env)
        except ProtocolError:
            continue
    return [r.public_key_b64 for r in verifier.rotations]


__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "FORMAT_ERRORS",
    "REJECTED",
    "Authenticator",
    "Candidate",
    "RecordResult",
    "Refusal",
    "announced_keys",
    "clean",
    "parse_envelope",
]
