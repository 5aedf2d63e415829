"""Batch ingest: verify, deduplicate, chain and store a kiosk's records.

Rules, in the order they are applied to each envelope in a batch:

1. it must parse strictly as an envelope (`malformed` otherwise);
2. `record.device` must be the device that sent the batch (`device_mismatch`: a record
   replayed from another door);
3. its signature must verify with the device's pinned key (`bad_signature`);
4. its timestamp must not be ahead of the centre clock by more than the allowed skew
   (`from_future`);
5. the same id already stored with the same digest is a `duplicate` (acknowledged again,
   stored once); the same id with other content is an `id_conflict`; another record
   already holding this seq is a `fork`.

Chain continuity is then checked per device: the centre keeps `head_seq`/`head_digest`,
the end of the chain verified from seq 1. A record at `head_seq + 1` must carry
`prev == head_digest` or it is refused (`prev_mismatch`, a fork). Records beyond a gap are
authentic (their signatures verify), so they are stored with `chained = False` and a `gap`
incident is raised; when the missing records arrive, the links across the gap are checked
and the records become chained. Good records are kept whatever happens to bad ones.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from centre.crud.devices import add_rotated_key, key_history
from centre.crud.heads import check_record_against_head
from centre.crud.incidents import raise_incident, resolve_gaps
from centre.models import Device, StoredRecord
from kiosk.errors import KioskError
from kiosk.ledger.keys import load_public_key_b64
from kiosk.ledger.records import KEY_ROTATED_EVENT, Envelope, parse_ts, verify_envelope

log = logging.getLogger(__name__)

_FORMAT_ERRORS = (KioskError, ValueError, TypeError, KeyError, AttributeError)

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"


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


@dataclass
class _Candidate:
    index: int
    env: Envelope
    digest: str
    canonical: bytes  # the envelope's canonical bytes, stored verbatim as evidence


def envelope_bytes(record_canonical: bytes, sig: str) -> bytes:
    """`Envelope.canonical()` from the record's canonical bytes, without re-canonicalising.

    RFC 8785 sorts keys ("record" < "sig") and a canonical base64 signature needs no
    escaping, so the envelope is a fixed frame around the record bytes. Canonicalising
    is the dominant ingest cost (pure-Python JCS), so the centre does it once per record;
    `test_centre_ingest` pins this equality against `Envelope.canonical()`.
    """
    return b'{"record":' + record_canonical + b',"sig":"' + sig.encode("ascii") + b'"}'


def _clean(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "")[:limit]


def _extract(env: Any, device: Device) -> dict[str, Any]:
    rec = env.record
    body = rec.body if isinstance(rec.body, dict) else {}
    return {
        "session_id": _clean(body.get("session_id"), 128),
        "room": _clean(body.get("room"), 64) or device.room,
        "applicant_id": _clean(body.get("applicant_id"), 128),
        "decision": _clean(body.get("decision"), 32),
        "proctor_id": _clean(body.get("proctor_id"), 128),
        "reason": _clean(body.get("reason"), 64),
        "overrides": _clean(body.get("overrides"), 64),
    }


class BatchIngestor:
    """Ingest one batch for one device inside the caller's transaction."""

    def __init__(
        self,
        db: Session,
        device: Device,
        *,
        now: datetime | None = None,
        max_future_skew_s: float = 300.0,
    ) -> None:
        self.db = db
        self.device = device
        self.now = now or datetime.now(UTC)
        self.max_future = self.now + timedelta(seconds=max_future_skew_s)
        self.keys = KeyHistory(key_history(db, device.id) or [(1, device.public_key)])
        self.rotations: dict[str, tuple[int, str]] = {}  # record id -> (from_seq, new key)
        self._key_cache: dict[str, Ed25519PublicKey] = {}

    def _reject(
        self,
        results: list[RecordResult],
        index: int,
        rec_id: str | None,
        seq: int | None,
        reason: str,
        detail: str,
        *,
        incident: bool = True,
    ) -> None:
        results[index] = RecordResult(index, rec_id, seq, REJECTED, reason, detail)
        if incident:
            raise_incident(
                self.db, self.device.id, reason, seq=seq, record_id=rec_id, detail=detail
            )

    def _parse_one(self, index: int, raw: Any, results: list[RecordResult]) -> Envelope | None:
        if not isinstance(raw, dict):
            self._reject(
                results,
                index,
                None,
                None,
                "malformed",
                "envelope is not a JSON object",
                incident=False,
            )
            return None
        try:
            env = Envelope.from_dict(raw)
        except _FORMAT_ERRORS as exc:
            rec = raw.get("record")
            rid = rec.get("id") if isinstance(rec, dict) else None
            self._reject(
                results,
                index,
                _clean(rid, 64),
                None,
                "malformed",
                f"not a valid envelope: {exc}",
                incident=False,
            )
            return None
        rec = env.record
        if rec.device != self.device.id:
            self._reject(
                results,
                index,
                rec.id,
                rec.seq,
                "device_mismatch",
                f"record belongs to device {rec.device!r}, sent by {self.device.id!r}",
            )
            return None
        return env

    def _check_one(
        self, index: int, env: Envelope, results: list[RecordResult]
    ) -> _Candidate | None:
        """Signature (with the key in force at its seq) and clock; called in seq order."""
        rec = env.record
        key_b64 = self.keys.key_for(rec.seq)
        record_bytes = rec.canonical()
        try:
            self._public_key(key_b64).verify(base64.b64decode(env.sig), record_bytes)
        except (InvalidSignature, KioskError, ValueError):
            self._reject(
                results,
                index,
                rec.id,
                rec.seq,
                "bad_signature",
                f"record seq {rec.seq} (id {rec.id}): signature does not verify "
                "with the device key",
            )
            return None
        if parse_ts(rec.ts) > self.max_future:
            self._reject(
                results,
                index,
                rec.id,
                rec.seq,
                "from_future",
                f"record time {rec.ts} is ahead of the centre clock "
                f"{self.now.isoformat(timespec='seconds')}",
            )
            return None
        rotation = rotation_of(env, key_b64)
        if rotation is not None:
            self.keys.add(*rotation)
            self.rotations[rec.id] = rotation
        canonical = envelope_bytes(record_bytes, env.sig)
        return _Candidate(index, env, hashlib.sha256(canonical).hexdigest(), canonical)

    def _public_key(self, key_b64: str) -> Ed25519PublicKey:
        key = self._key_cache.get(key_b64)
        if key is None:
            key = self._key_cache[key_b64] = load_public_key_b64(key_b64)
        return key

    def ingest(self, raw_envelopes: list[Any]) -> list[RecordResult]:
        n = len(raw_envelopes)
        results: list[RecordResult] = [
            RecordResult(i, None, None, REJECTED, "internal") for i in range(n)
        ]
        parsed = [
            (i, env)
            for i, raw in enumerate(raw_envelopes)
            if (env := self._parse_one(i, raw, results)) is not None
        ]
        parsed.sort(key=lambda p: p[1].record.seq)
        cands = [c for i, env in parsed if (c := self._check_one(i, env, results)) is not None]
        if not cands:
            self._touch()
            return results

        ids = [c.env.record.id for c in cands]
        stored_by_id = {
            row.id: row
            for row in self.db.execute(
                select(StoredRecord.id, StoredRecord.digest, StoredRecord.seq).where(
                    StoredRecord.id.in_(ids)
                )
            )
        }
        seqs = [c.env.record.seq for c in cands]
        stored_by_seq = {
            row.seq: row
            for row in self.db.execute(
                select(StoredRecord.id, StoredRecord.seq).where(
                    StoredRecord.device_id == self.device.id,
                    StoredRecord.seq.between(min(seqs), max(seqs)),
                )
            )
        }

        new: dict[int, _Candidate] = {}
        seen_ids: dict[str, str] = {}
        for c in sorted(cands, key=lambda c: c.env.record.seq):
            rec = c.env.record
            stored = stored_by_id.get(rec.id)
            if stored is not None or rec.id in seen_ids:
                digest = stored.digest if stored is not None else seen_ids[rec.id]
                if digest == c.digest:
                    results[c.index] = RecordResult(c.index, rec.id, rec.seq, DUPLICATE)
                else:
                    self._reject(
                        results,
                        c.index,
                        rec.id,
                        rec.seq,
                        "id_conflict",
                        "a different record with this id is already stored",
                    )
                continue
            holder = stored_by_seq.get(rec.seq)
            if holder is not None or rec.seq in new:
                other = holder.id if holder is not None else new[rec.seq].env.record.id
                self._reject(
                    results,
                    c.index,
                    rec.id,
                    rec.seq,
                    "fork",
                    f"seq {rec.seq} is already held by record {other}",
                )
                continue
            new[rec.seq] = c
            seen_ids[rec.id] = c.digest

        chained_new, old_head = self._advance_chain(new, results)
        self._store(new, chained_new, results)
        for r in results:
            if r.status in (ACCEPTED, DUPLICATE) and r.id in self.rotations:
                add_rotated_key(self.db, self.device, *self.rotations[r.id])
        if self.device.head_seq > old_head:
            resolve_gaps(self.db, self.device.id, self.device.head_seq)
        self._flag_gap(new)
        self._touch()
        return results

    def _advance_chain(
        self, new: dict[int, _Candidate], results: list[RecordResult]
    ) -> tuple[set[int], int]:
        """Walk the chain from the device head; returns (new seqs that chained, old head)."""
        dev = self.device
        old_head = dev.head_seq
        head_seq, head_digest = dev.head_seq, dev.head_digest
        parked: dict[int, Any] | None = None  # stored-but-unchained records, loaded lazily
        chained_new: set[int] = set()
        promoted: list[int] = []
        while True:
            nxt = head_seq + 1
            cand = new.get(nxt)
            if cand is not None:
                rec = cand.env.record
                if rec.prev != head_digest:
                    del new[nxt]
                    self._reject(
                        results,
                        cand.index,
                        rec.id,
                        rec.seq,
                        "prev_mismatch",
                        f"prev does not match the digest of seq {head_seq} at the centre",
                    )
                    break
                chained_new.add(nxt)
                head_seq, head_digest = nxt, cand.digest
                continue
            if parked is None:
                parked = {}
                if dev.max_seq > head_seq:
                    parked = {
                        row.seq: row
                        for row in self.db.execute(
                            select(StoredRecord.seq, StoredRecord.digest, StoredRecord.prev).where(
                                StoredRecord.device_id == dev.id,
                                StoredRecord.seq > head_seq,
                                StoredRecord.chained.is_(False),
                            )
                        )
                    }
            row = parked.get(nxt)
            if row is None:
                break
            if row.prev != head_digest:
                raise_incident(
                    self.db,
                    dev.id,
                    "chain_broken",
                    seq=nxt,
                    detail=f"stored seq {nxt} does not link to seq {head_seq}",
                )
                break
            promoted.append(nxt)
            head_seq, head_digest = nxt, row.digest
        if promoted:
            self.db.execute(
                update(StoredRecord)
                .where(StoredRecord.device_id == dev.id, StoredRecord.seq.in_(promoted))
                .values(chained=True)
            )
        dev.head_seq, dev.head_digest = head_seq, head_digest
        return chained_new, old_head

    def _store(
        self, new: dict[int, _Candidate], chained_new: set[int], results: list[RecordResult]
    ) -> None:
        if not new:
            return
        override_rooms = self._override_rooms(new)
        rows = []
        for seq, c in new.items():
            rec = c.env.record
            fields = _extract(c.env, self.device)
            if rec.type == "override" and not c.env.record.body.get("room"):
                fields["room"] = override_rooms.get(fields["overrides"]) or fields["room"]
            rows.append(
                {
                    "id": rec.id,
                    "device_id": self.device.id,
                    "seq": seq,
                    "type": rec.type,
                    "ts": rec.ts,
                    "digest": c.digest,
                    "prev": rec.prev,
                    "chained": seq in chained_new,
                    "envelope": c.canonical.decode("utf-8"),
                    "received_at": self.now,
                    **fields,
                }
            )
            results[c.index] = RecordResult(c.index, rec.id, seq, ACCEPTED)
        self.db.execute(insert(StoredRecord.__table__), rows)
        self.device.max_seq = max(self.device.max_seq, max(new))
        for seq, c in new.items():  # a seq the device already reported with another hash
            check_record_against_head(self.db, self.device.id, seq, c.digest)

    def _override_rooms(self, new: dict[int, _Candidate]) -> dict[str, str | None]:
        """Room of each overridden check-in, so an override counts against the right room."""
        wanted = {
            str(c.env.record.body.get("overrides"))
            for c in new.values()
            if c.env.record.type == "override" and not c.env.record.body.get("room")
        }
        if not wanted:
            return {}
        rooms: dict[str, str | None] = {}
        for c in new.values():
            if c.env.record.id in wanted:
                rooms[c.env.record.id] = _clean(c.env.record.body.get("room"), 64)
        missing = wanted - rooms.keys()
        if missing:
            for row in self.db.execute(
                select(StoredRecord.id, StoredRecord.room).where(StoredRecord.id.in_(missing))
            ):
                rooms[row.id] = row.room
        return rooms

    def _flag_gap(self, new: dict[int, _Candidate]) -> None:
        dev = self.device
        if dev.max_seq > dev.head_seq:
            missing_from = dev.head_seq + 1
            raise_incident(
                self.db,
                dev.id,
                "gap",
                seq=missing_from,
                detail=f"records from seq {missing_from} are missing; "
                f"seq up to {dev.max_seq} stored unchained",
            )

    def _touch(self) -> None:
        self.device.last_seen_at = self.now


class KeyHistory:
    """Which device key signs which seq: [(from_seq, public key b64)], oldest first."""

    def __init__(self, epochs: list[tuple[int, str]]) -> None:
        self.epochs = sorted(epochs)

    def key_for(self, seq: int) -> str:
        key = self.epochs[0][1]
        for from_seq, k in self.epochs:
            if from_seq <= seq:
                key = k
        return key

    def add(self, from_seq: int, key_b64: str) -> None:
        if (from_seq, key_b64) not in self.epochs:
            self.epochs = sorted([*self.epochs, (from_seq, key_b64)])

    def all_keys(self) -> list[str]:
        return [k for _, k in reversed(self.epochs)]


def rotation_of(env: Envelope, signing_key_b64: str) -> tuple[int, str] | None:
    """(from_seq, new key) if `env` is a well-formed key hand-over by `signing_key_b64`."""
    rec = env.record
    if rec.type != "device_event" or rec.body.get("event") != KEY_ROTATED_EVENT:
        return None
    new_key = rec.body.get("new_public_key")
    if (
        rec.body.get("effective_seq") != rec.seq + 1
        or rec.body.get("old_public_key") != signing_key_b64
        or not isinstance(new_key, str)
    ):
        return None
    try:
        load_public_key_b64(new_key)
    except KioskError:
        return None
    return rec.seq + 1, new_key


def announced_keys(db: Session, device: Device, raw_envelopes: list[Any]) -> list[str]:
    """Keys handed over to by verified `key_rotated` records in a batch.

    A kiosk that has just rotated signs its next request with the new key, which the
    centre only learns from the rotation record inside that very request; that record is
    signed by a key the centre already trusts, so it vouches for the request key.
    """
    keys = KeyHistory(key_history(db, device.id) or [(1, device.public_key)])
    found: list[str] = []
    envs = []
    for raw in raw_envelopes:
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("record"), dict)
            and raw["record"].get("type") == "device_event"
        ):
            continue
        try:
            envs.append(Envelope.from_dict(raw))
        except _FORMAT_ERRORS:
            continue
    for env in sorted(envs, key=lambda e: e.record.seq):
        if env.record.device != device.id:
            continue
        signer = keys.key_for(env.record.seq)
        try:
            verify_envelope(env, load_public_key_b64(signer))
        except _FORMAT_ERRORS:
            continue
        rotation = rotation_of(env, signer)
        if rotation is not None:
            keys.add(*rotation)
            found.append(rotation[1])
    return found
