"""Ingest, steps 2 and 4: sort authentic records into new, duplicate and conflicting
against what is stored, and write the new ones.

The same id already stored with the same digest is a `duplicate` (acknowledged again,
stored once); the same id with other content is an `id_conflict`; another record already
holding this seq is a `fork`. Stored rows keep the canonical envelope verbatim (evidence)
and a few columns copied out of the body for reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from centre.crud import record_rollup
from centre.crud.ingest_verify import Candidate, Refusal, clean
from centre.models import Device, StoredRecord


def classify(
    db: Session, device_id: str, cands: list[Candidate]
) -> tuple[dict[int, Candidate], list[Candidate], list[Refusal]]:
    """(new records by seq, duplicates, refusals) for authentic candidates."""
    ids = [c.env.record.id for c in cands]
    stored_by_id = {
        row.id: row
        for row in db.execute(
            select(StoredRecord.id, StoredRecord.digest, StoredRecord.seq).where(
                StoredRecord.id.in_(ids)
            )
        )
    }
    seqs = [c.env.record.seq for c in cands]
    stored_by_seq = {
        row.seq: row
        for row in db.execute(
            select(StoredRecord.id, StoredRecord.seq).where(
                StoredRecord.device_id == device_id,
                StoredRecord.seq.between(min(seqs), max(seqs)),
            )
        )
    }
    new: dict[int, Candidate] = {}
    duplicates: list[Candidate] = []
    refusals: list[Refusal] = []
    seen_ids: dict[str, str] = {}
    for c in sorted(cands, key=lambda c: c.env.record.seq):
        rec = c.env.record
        stored = stored_by_id.get(rec.id)
        if stored is not None or rec.id in seen_ids:
            digest = stored.digest if stored is not None else seen_ids[rec.id]
            if digest == c.digest:
                duplicates.append(c)
            else:
                detail = "a different record with this id is already stored"
                refusals.append(Refusal(c.index, rec.id, rec.seq, "id_conflict", detail))
            continue
        holder = stored_by_seq.get(rec.seq)
        if holder is not None or rec.seq in new:
            other = holder.id if holder is not None else new[rec.seq].env.record.id
            detail = f"seq {rec.seq} is already held by record {other}"
            refusals.append(Refusal(c.index, rec.id, rec.seq, "fork", detail))
            continue
        new[rec.seq] = c
        seen_ids[rec.id] = c.digest
    return new, duplicates, refusals


def _refused_id(body: dict[str, Any]) -> Any:
    # The kiosk writes `refused_record_id` (kiosk.protocol.bodies.OverrideBody); `overrides`
    # is what this column was first filled from, kept for records written that way.
    return body.get("refused_record_id", body.get("overrides"))


def _report_columns(body: dict[str, Any], device: Device) -> dict[str, Any]:
    return {
        "session_id": clean(body.get("session_id"), 128),
        "room": clean(body.get("room"), 64) or device.room,
        "applicant_id": clean(body.get("applicant_id"), 128),
        "decision": clean(body.get("decision"), 32),
        "proctor_id": clean(body.get("proctor_id"), 128),
        "reason": clean(body.get("reason"), 64),
        "overrides": clean(_refused_id(body), 64),
    }


def store_new(
    db: Session,
    device: Device,
    new: dict[int, Candidate],
    chained: set[int],
    received_at: datetime,
) -> None:
    """Insert the new records (one statement), count them into the per-day roll-up and
    move the device's `max_seq`."""
    if not new:
        return
    override_rooms = _override_rooms(db, new)
    rows = []
    for seq, c in new.items():
        rec = c.env.record
        fields = _report_columns(rec.body, device)
        if rec.type == "override" and not rec.body.get("room"):
            fields["room"] = override_rooms.get(fields["overrides"]) or fields["room"]
        rows.append(
            {
                "id": rec.id,
                "device_id": device.id,
                "seq": seq,
                "type": rec.type,
                "ts": rec.ts,
                "digest": c.digest,
                "prev": rec.prev,
                "chained": seq in chained,
                "envelope": c.canonical.decode("utf-8"),
                "received_at": received_at,
                **fields,
            }
        )
    db.execute(insert(StoredRecord.__table__), rows)
    record_rollup.add_records(db, rows)
    device.max_seq = max(device.max_seq, max(new))


def _override_rooms(db: Session, new: dict[int, Candidate]) -> dict[str, str | None]:
    """Room of each overridden check-in, so an override counts against the right room."""
    wanted = {
        str(_refused_id(c.env.record.body))
        for c in new.values()
        if c.env.record.type == "override" and not c.env.record.body.get("room")
    }
    if not wanted:
        return {}
    rooms: dict[str, str | None] = {}
    for c in new.values():
        if c.env.record.id in wanted:
            rooms[c.env.record.id] = clean(c.env.record.body.get("room"), 64)
    missing = wanted - rooms.keys()
    if missing:
        for row in db.execute(
            select(StoredRecord.id, StoredRecord.room).where(StoredRecord.id.in_(missing))
        ):
            rooms[row.id] = row.room
    return rooms


__all__ = ["classify", "store_new"]
