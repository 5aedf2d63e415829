"""Reports (viewer), record-level audit data and incidents (auditor)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from centre.api.deps import (
    Auditor,
    DbSession,
    Viewer,
    context,
)
from centre.crud.incidents import list_incidents
from centre.crud.reports import override_report
from centre.models import StoredRecord

router = APIRouter(prefix="/api/v1")

# A record seq is a SQLite/PostgreSQL BIGINT; a larger query number overflows the driver.
MAX_SEQ = 2**63 - 1


@router.get("/reports/overrides")
def overrides_report(
    *,
    request: Request,
    since: str | None = None,
    until: str | None = None,
    room: str | None = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    db: DbSession,
    _: Viewer,
) -> Any:
    """Check-ins, rejections, overrides and override rate per session, room and proctor."""
    report = override_report(
        db, alert=context(request).settings.override_rate_alert, since=since, until=until, room=room
    )
    if format == "csv":
        return Response(
            report.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="overrides.csv"'},
        )
    return report.to_dict()


@router.get("/reports/overrides.csv")
def overrides_report_csv(
    *,
    request: Request,
    since: str | None = None,
    until: str | None = None,
    room: str | None = None,
    db: DbSession,
    _: Viewer,
) -> Response:
    report = override_report(
        db, alert=context(request).settings.override_rate_alert, since=since, until=until, room=room
    )
    return Response(
        report.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="overrides.csv"'},
    )


@router.get("/records")
def list_records(
    *,
    device_id: str | None = None,
    session_id: str | None = None,
    applicant_id: str | None = None,
    type: str | None = None,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    include_envelope: bool = False,
    db: DbSession,
    _: Auditor,
) -> dict[str, Any]:
    """Record-level data (applicant ids, decisions; never images) for auditors."""
    q = select(StoredRecord).order_by(StoredRecord.device_id, StoredRecord.seq).limit(limit)
    if device_id:
        q = q.where(StoredRecord.device_id == device_id, StoredRecord.seq > after_seq)
    if session_id:
        q = q.where(StoredRecord.session_id == session_id)
    if applicant_id:
        q = q.where(StoredRecord.applicant_id == applicant_id)
    if type:
        q = q.where(StoredRecord.type == type)
    out = []
    for r in db.scalars(q):
        item: dict[str, Any] = {
            "id": r.id,
            "device_id": r.device_id,
            "seq": r.seq,
            "type": r.type,
            "ts": r.ts,
            "digest": r.digest,
            "chained": r.chained,
            "session_id": r.session_id,
            "room": r.room,
            "applicant_id": r.applicant_id,
            "decision": r.decision,
            "proctor_id": r.proctor_id,
            "reason": r.reason,
            "overrides": r.overrides,
        }
        if include_envelope:
            item["envelope"] = json.loads(r.envelope)
        out.append(item)
    return {"records": out}


@router.get("/incidents")
def incidents(
    *,
    device_id: str | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    db: DbSession,
    _: Auditor,
) -> dict[str, Any]:
    return {
        "incidents": [
            {
                "id": i.id,
                "device_id": i.device_id,
                "kind": i.kind,
                "seq": i.seq,
                "record_id": i.record_id,
                "detail": i.detail,
                "occurrences": i.occurrences,
                "created_at": i.created_at.isoformat(),
                "last_seen_at": i.last_seen_at.isoformat(),
                "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
            }
            for i in list_incidents(db, device_id=device_id, open_only=open_only, limit=limit)
        ]
    }
