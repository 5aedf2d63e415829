"""Incident acknowledgements (append-only) and the console's paged incident list.

An acknowledgement says "a person looked at this": who, when, and a note. It never edits
the incident or an earlier acknowledgement; the table's triggers refuse UPDATE and DELETE
(migration 0003), so the list of acknowledgements is an audit trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from centre.errors import CentreError
from centre.models import Incident, StaffUser, StoredRecord
from centre.models_console import IncidentAck

PAGE_SIZE = 50
NOTE_LIMIT = 2000


class IncidentNotFound(CentreError):
    code = "incident_not_found"


def acknowledge(db: Session, incident_id: int, user: StaffUser, note: str) -> IncidentAck:
    if db.get(Incident, incident_id) is None:
        raise IncidentNotFound(f"there is no incident {incident_id}")
    ack = IncidentAck(incident_id=incident_id, acked_by=user.name, note=note.strip()[:NOTE_LIMIT])
    db.add(ack)
    db.flush()
    return ack


def acks_for(db: Session, incident_id: int) -> list[IncidentAck]:
    q = select(IncidentAck).where(IncidentAck.incident_id == incident_id).order_by(IncidentAck.id)
    return list(db.scalars(q))


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    ack_count: int
    last_acked_at: datetime | None


def incident_page(
    db: Session,
    *,
    kind: str | None = None,
    device_id: str | None = None,
    unacked_only: bool = False,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> tuple[list[IncidentRow], int]:
    """Newest first, with how many times each was acknowledged; and the total count."""
    acks = (
        select(
            IncidentAck.incident_id,
            func.count().label("n"),
            func.max(IncidentAck.acked_at).label("last"),
        )
        .group_by(IncidentAck.incident_id)
        .subquery()
    )
    q = select(Incident, acks.c.n, acks.c.last).outerjoin(acks, acks.c.incident_id == Incident.id)
    count_q = (
        select(func.count())
        .select_from(Incident)
        .outerjoin(acks, acks.c.incident_id == Incident.id)
    )
    for cond in (
        Incident.kind == kind if kind else None,
        Incident.device_id == device_id if device_id else None,
        acks.c.n.is_(None) if unacked_only else None,
    ):
        if cond is not None:
            q, count_q = q.where(cond), count_q.where(cond)
    q = q.order_by(Incident.id.desc()).limit(size).offset(max(page - 1, 0) * size)
    rows = [IncidentRow(inc, int(n or 0), last) for inc, n, last in db.execute(q)]
    return rows, int(db.scalar(count_q) or 0)


def kinds_present(db: Session) -> list[str]:
    return [k for (k,) in db.execute(select(Incident.kind).group_by(Incident.kind))]


# device_event kinds an auditor reviews next to incidents: the camera was swapped or its
# stream looked replayed, or the kiosk clock was stepped or drifted.
WATCHED_EVENTS = ("camera_refused", "camera_stream_suspect", "clock_jump", "clock_skew")


@dataclass(frozen=True)
class DeviceEventRow:
    device_id: str
    seq: int
    ts: str
    event: str
    summary: str


def watched_device_events(db: Session, *, limit: int = 50) -> list[DeviceEventRow]:
    """The newest camera and clock events (filtered in SQL on the canonical envelope)."""
    q = (
        select(StoredRecord.device_id, StoredRecord.seq, StoredRecord.ts, StoredRecord.envelope)
        .where(
            StoredRecord.type == "device_event",
            or_(*(StoredRecord.envelope.contains(f'"event":"{e}"') for e in WATCHED_EVENTS)),
        )
        .order_by(StoredRecord.ts.desc())
        .limit(limit)
    )
    out = []
    for device_id, seq, ts, envelope in db.execute(q):
        try:
            body = json.loads(envelope)["record"]["body"]
        except (ValueError, KeyError, TypeError):
            continue
        event = str(body.get("event", ""))
        shown = {k: v for k, v in body.items() if k != "event" and not isinstance(v, dict | list)}
        summary = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))[:160]
        out.append(DeviceEventRow(device_id, seq, ts, event, summary))
    return out
