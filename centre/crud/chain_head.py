"""Ingest, step 3: advance the device's verified chain head.

The centre keeps `head_seq`/`head_digest` per device: the end of the chain verified
from seq 1. A record at `head_seq + 1` must carry `prev == head_digest` or it is refused
(`prev_mismatch`, a fork). Records beyond a gap are authentic (their signatures verify),
so they are stored with `chained = False` and a `gap` incident is raised; when the missing
records arrive, the links across the gap are checked here and the records become chained.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from centre.crud.incidents import raise_incident
from centre.crud.ingest_verify import Candidate, Refusal
from centre.models import Device, StoredRecord


def advance_head(
    db: Session, dev: Device, new: dict[int, Candidate]
) -> tuple[set[int], list[Refusal]]:
    """Walk the chain from the device head through this batch's new records and any stored
    unchained ones; returns (new seqs that chained, refusals). A refused record is removed
    from `new`; stored records that now link are marked chained; the head moves."""
    head_seq, head_digest = dev.head_seq, dev.head_digest
    parked: dict[int, Any] | None = None  # stored-but-unchained records, loaded lazily
    chained_new: set[int] = set()
    promoted: list[int] = []
    refusals: list[Refusal] = []
    while True:
        nxt = head_seq + 1
        cand = new.get(nxt)
        if cand is not None:
            rec = cand.env.record
            if rec.prev != head_digest:
                del new[nxt]
                detail = f"prev does not match the digest of seq {head_seq} at the centre"
                refusals.append(Refusal(cand.index, rec.id, rec.seq, "prev_mismatch", detail))
                break
            chained_new.add(nxt)
            head_seq, head_digest = nxt, cand.digest
            continue
        if parked is None:
            parked = _parked(db, dev, head_seq)
        row = parked.get(nxt)
        if row is None:
            break
        if row.prev != head_digest:
            raise_incident(
                db,
                dev.id,
                "chain_broken",
                seq=nxt,
                detail=f"stored seq {nxt} does not link to seq {head_seq}",
            )
            break
        promoted.append(nxt)
        head_seq, head_digest = nxt, row.digest
    if promoted:
        db.execute(
            update(StoredRecord)
            .where(StoredRecord.device_id == dev.id, StoredRecord.seq.in_(promoted))
            .values(chained=True)
        )
    dev.head_seq, dev.head_digest = head_seq, head_digest
    return chained_new, refusals


def _parked(db: Session, dev: Device, head_seq: int) -> dict[int, Any]:
    if dev.max_seq <= head_seq:
        return {}
    return {
        row.seq: row
        for row in db.execute(
            select(StoredRecord.seq, StoredRecord.digest, StoredRecord.prev).where(
                StoredRecord.device_id == dev.id,
                StoredRecord.seq > head_seq,
                StoredRecord.chained.is_(False),
            )
        )
    }


def flag_gap(db: Session, dev: Device) -> None:
    """A `gap` incident while records beyond the head are stored unchained."""
    if dev.max_seq > dev.head_seq:
        missing_from = dev.head_seq + 1
        raise_incident(
            db,
            dev.id,
            "gap",
            seq=missing_from,
            detail=f"records from seq {missing_from} are missing; "
            f"seq up to {dev.max_seq} stored unchained",
        )


__all__ = ["advance_head", "flag_gap"]
