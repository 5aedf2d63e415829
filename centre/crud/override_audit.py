"""Override queries for the console: rate per day, a filtered page of overrides, one override.

Everything is counted and paged in SQL (GROUP BY, LIMIT/OFFSET over the
`ix_records_type_*_ts` indexes); Python only shapes the few rows that come back. Per-proctor
and per-room rates come from `centre.crud.reports.override_report`, the same numbers the
API and its CSV give.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from centre.models import StoredRecord
from kiosk.protocol.bodies import OVERRIDE_REASON_CODES

PAGE_SIZE = 50
# Body fields an auditor may see for a record; anything else (never an image or a template,
# which records do not carry, but also free-form extras) stays in the stored envelope.
SHOWN_CHECKIN_FIELDS = ("decision", "score", "threshold", "liveness", "quality", "pack")


@dataclass(frozen=True)
class OverrideFilter:
    room: str | None = None
    proctor: str | None = None
    reason: str | None = None
    since: str | None = None  # RFC 3339 prefix, compared as text like the API does
    until: str | None = None

    def apply(self, q: Select[Any], rec: Any = StoredRecord) -> Select[Any]:
        if self.room:
            q = q.where(rec.room == self.room)
        if self.proctor:
            q = q.where(rec.proctor_id == self.proctor)
        if self.reason:
            q = q.where(rec.reason == self.reason)
        if self.since:
            q = q.where(rec.ts >= self.since)
        if self.until:
            q = q.where(rec.ts < self.until)
        return q


@dataclass(frozen=True)
class DayRate:
    day: str
    checkins: int
    overrides: int

    @property
    def rate(self) -> float:
        return self.overrides / self.checkins if self.checkins else 0.0


def rates_per_day(
    db: Session, flt: OverrideFilter, *, days: int = 31, today: date | None = None
) -> list[DayRate]:
    """Check-ins and overrides per UTC day (the first 10 characters of the signed ts).

    Without a `since` filter only the last `days` calendar days are read: the chart shows no
    more, and the index range stays a month wide however long the centre has run.
    """
    if not flt.since:
        today = today or datetime.now(UTC).date()
        flt = replace(flt, since=(today - timedelta(days=days - 1)).isoformat())
    day = func.substr(StoredRecord.ts, 1, 10)
    q = (
        select(day, StoredRecord.type, func.count())
        .where(StoredRecord.type.in_(("checkin", "override")))
        .group_by(day, StoredRecord.type)
        .order_by(day.desc())
    )
    q = OverrideFilter(flt.room, None, None, flt.since, flt.until).apply(q)
    counts: dict[str, dict[str, int]] = {}
    for d, rtype, n in db.execute(q):
        counts.setdefault(d, {"checkin": 0, "override": 0})[rtype] = int(n)
    recent = sorted(counts)[-days:]
    return [DayRate(d, counts[d]["checkin"], counts[d]["override"]) for d in recent]


@dataclass(frozen=True)
class OverrideRow:
    id: str
    ts: str
    device_id: str
    room: str | None
    proctor_id: str | None
    reason: str | None
    refused_id: str | None
    refused_decision: str | None


def override_page(
    db: Session, flt: OverrideFilter, *, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[OverrideRow], int]:
    """One page of overrides, newest first, each with the decision it overrode; and the total.

    The page is cut from the index first and only its rows are joined to their refused
    check-ins, so page 200 costs one index walk, not 10,000 joins.
    """
    ids = (
        flt.apply(select(StoredRecord.id).where(StoredRecord.type == "override"))
        .order_by(StoredRecord.ts.desc(), StoredRecord.id.desc())
        .limit(size)
        .offset(max(page - 1, 0) * size)
        .subquery()
    )
    over, refused = aliased(StoredRecord), aliased(StoredRecord)
    q = (
        select(
            over.id,
            over.ts,
            over.device_id,
            over.room,
            over.proctor_id,
            over.reason,
            over.overrides,
            refused.decision,
        )
        .join(ids, ids.c.id == over.id)
        .outerjoin(refused, refused.id == over.overrides)
        .order_by(over.ts.desc(), over.id.desc())
    )
    rows = [OverrideRow(*r) for r in db.execute(q)]
    total_q = flt.apply(
        select(func.count()).select_from(StoredRecord).where(StoredRecord.type == "override")
    )
    return rows, int(db.scalar(total_q) or 0)


@dataclass(frozen=True)
class OverrideDetail:
    record: StoredRecord
    note: str
    refused: StoredRecord | None
    refused_fields: dict[str, Any]


def _body(rec: StoredRecord) -> dict[str, Any]:
    try:
        body = json.loads(rec.envelope)["record"]["body"]
    except (ValueError, KeyError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def override_detail(db: Session, record_id: str) -> OverrideDetail | None:
    rec = db.get(StoredRecord, record_id)
    if rec is None or rec.type != "override":
        return None
    note = _body(rec).get("note")
    refused = db.get(StoredRecord, rec.overrides) if rec.overrides else None
    fields: dict[str, Any] = {}
    if refused is not None:
        body = _body(refused)
        fields = {k: body[k] for k in SHOWN_CHECKIN_FIELDS if k in body}
    return OverrideDetail(rec, note if isinstance(note, str) else "", refused, fields)


def reasons() -> list[str]:
    """The reason codes a kiosk offers (a fixed list, so no query over the records)."""
    return list(OVERRIDE_REASON_CODES)
