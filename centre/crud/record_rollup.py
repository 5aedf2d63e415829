"""The per-day roll-up of check-ins and overrides (`record_rollup`), kept at ingest.

`store_new` adds each batch's new rows here in the same transaction that inserts them, so a
duplicate batch (nothing new stored) adds nothing and a refused fork is never counted. The
override report, the per-day chart and the per-proctor/room rates read these few thousand
rows instead of an index entry per check-in. They can only do so when the time filter falls
on whole days (`day_aligned`); a finer filter still counts the records themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import case, delete, func, insert, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from centre.models import RecordRollup, StoredRecord

COUNTED_TYPES = ("checkin", "override")
KEY = ("day", "session_id", "room", "proctor_id", "device_id")
COUNTS = ("checkins", "accepted", "rejected", "needs_proctor", "overrides")
DAY_CHARS = 10  # "YYYY-MM-DD", the start of every signed ts


def _counts(rtype: str, decision: str | None) -> dict[str, int]:
    c = dict.fromkeys(COUNTS, 0)
    if rtype == "override":
        c["overrides"] = 1
        return c
    c["checkins"] = 1
    if decision in ("accepted", "rejected", "needs_proctor"):
        c[decision] = 1
    return c


def add_records(db: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count freshly stored record rows (the dicts `store_new` inserts) into the roll-up."""
    sums: dict[tuple[str, ...], dict[str, int]] = {}
    for row in rows:
        if row["type"] not in COUNTED_TYPES:
            continue
        key = (
            row["ts"][:DAY_CHARS],
            row["session_id"] or "",
            row["room"] or "",
            row["proctor_id"] or "",
            row["device_id"],
        )
        acc = sums.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name, n in _counts(row["type"], row["decision"]).items():
            acc[name] += n
    if not sums:
        return
    values = [{**dict(zip(KEY, k, strict=True)), **c} for k, c in sorted(sums.items())]
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(RecordRollup.__table__)
    table = RecordRollup.__table__
    # Concurrent batches of one room's doors meet on no row (the door is in the key), and the
    # sorted values take row locks in one order, so an upsert never deadlocks another.
    stmt = stmt.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + stmt.excluded[name] for name in COUNTS},
    )
    db.execute(stmt, values)


def rebuild(db: Session) -> None:
    """Recount the roll-up from the stored records (what migration 0004 does once)."""
    r = StoredRecord
    day = func.substr(r.ts, 1, DAY_CHARS)

    def when(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    checkin = r.type == "checkin"
    # Grouped by the coalesced values: a NULL and an '' room are one roll-up row.
    blank: Any = literal_column("''")
    keys = [day, *(func.coalesce(c, blank) for c in (r.session_id, r.room, r.proctor_id))]
    q = (
        select(
            *keys,
            r.device_id,
            when(checkin),
            when(checkin & (r.decision == "accepted")),
            when(checkin & (r.decision == "rejected")),
            when(checkin & (r.decision == "needs_proctor")),
            when(r.type == "override"),
        )
        .where(r.type.in_(COUNTED_TYPES))
        .group_by(*keys, r.device_id)
    )
    db.execute(delete(RecordRollup))
    db.execute(insert(RecordRollup).from_select([*KEY, *COUNTS], q))


def day_aligned(*bounds: str | None) -> bool:
    """Whether text bounds on ts select whole days, so day bounds give the same rows.

    For a bound b of at most 10 characters, `ts >= b` holds exactly when `ts[:10] >= b`
    (and likewise for `<`), because ts[:len(b)] decides both comparisons.
    """
    return all(b is None or len(b) <= DAY_CHARS for b in bounds)


def _where(q: Any, since: str | None, until: str | None, room: str | None) -> Any:
    if since:
        q = q.where(RecordRollup.day >= since)
    if until:
        q = q.where(RecordRollup.day < until)
    if room:
        q = q.where(RecordRollup.room == room)
    return q


def report_groups(
    db: Session, *, since: str | None, until: str | None, room: str | None
) -> list[tuple[str | None, str | None, str | None, str, str | None, int]]:
    """(session, room, proctor, type, decision, count) as `override_report` groups records.

    Check-ins with a decision outside the three known ones come back with decision None:
    the report counts them only as check-ins, as it does any unknown decision.
    """
    sums = [func.sum(RecordRollup.__table__.c[name]) for name in COUNTS]
    cols = (RecordRollup.session_id, RecordRollup.room, RecordRollup.proctor_id)
    q = _where(select(*cols, *sums).group_by(*cols), since, until, room)
    out: list[tuple[str | None, str | None, str | None, str, str | None, int]] = []
    for s, r, p, checkins, acc, rej, need, over in db.execute(q):
        s, r, p = s or None, r or None, p or None
        other = int(checkins) - int(acc) - int(rej) - int(need)
        for rtype, decision, n in (
            ("checkin", "accepted", acc),
            ("checkin", "rejected", rej),
            ("checkin", "needs_proctor", need),
            ("checkin", None, other),
            ("override", None, over),
        ):
            if n:
                out.append((s, r, p, rtype, decision, int(n)))
    return out


def day_counts(
    db: Session, *, since: str | None, until: str | None, room: str | None
) -> dict[str, tuple[int, int]]:
    """(check-ins, overrides) per day with any of either."""
    q = _where(
        select(
            RecordRollup.day,
            func.sum(RecordRollup.checkins),
            func.sum(RecordRollup.overrides),
        ).group_by(RecordRollup.day),
        since,
        until,
        room,
    )
    return {d: (int(c), int(o)) for d, c, o in db.execute(q) if c or o}


__all__ = ["add_records", "day_aligned", "day_counts", "rebuild", "report_groups"]
