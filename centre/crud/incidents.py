"""Incidents: gaps, forks, bad signatures and foreign records, deduplicated.

A kiosk retries a batch until every record is acked, so the same bad record can arrive
many times; it is one incident with a growing `occurrences` count, not a flood.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.models import Incident, utcnow

log = logging.getLogger(__name__)

KINDS = (
    "gap",
    "fork",
    "bad_signature",
    "device_mismatch",
    "id_conflict",
    "from_future",
    "malformed",
    "chain_broken",
    "prev_mismatch",
    # the head witness (centre/crud/heads.py)
    "head_rollback",
    "head_mismatch",
    "seq_reused",
)


def raise_incident(
    db: Session,
    device_id: str | None,
    kind: str,
    *,
    seq: int | None = None,
    record_id: str | None = None,
    detail: str = "",
) -> Incident:
    existing = db.scalar(
        select(Incident).where(
            Incident.device_id == device_id,
            Incident.kind == kind,
            Incident.seq == seq,
            Incident.record_id == record_id,
            Incident.resolved_at.is_(None),
        )
    )
    if existing is not None:
        existing.occurrences += 1
        existing.last_seen_at = utcnow()
        return existing
    log.warning(
        "incident %s device=%s seq=%s record=%s: %s", kind, device_id, seq, record_id, detail
    )
    incident = Incident(device_id=device_id, kind=kind, seq=seq, record_id=record_id, detail=detail)
    db.add(incident)
    return incident


def resolve_gaps(db: Session, device_id: str, up_to_seq: int) -> int:
    """Close gap incidents once the chain is contiguous past them; returns how many."""
    open_gaps = db.scalars(
        select(Incident).where(
            Incident.device_id == device_id,
            Incident.kind == "gap",
            Incident.resolved_at.is_(None),
            Incident.seq <= up_to_seq,
        )
    ).all()
    now = utcnow()
    for inc in open_gaps:
        inc.resolved_at = now
    return len(open_gaps)


def list_incidents(
    db: Session, *, device_id: str | None = None, open_only: bool = False, limit: int = 500
) -> list[Incident]:
    q = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if device_id:
        q = q.where(Incident.device_id == device_id)
    if open_only:
        q = q.where(Incident.resolved_at.is_(None))
    return list(db.scalars(q))
