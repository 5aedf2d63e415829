"""The dashboard's questions: which doors are healthy, and what happened in each room today.

A door is marked red when it is silent while an exam session is open in its room (the
session window comes from the newest signed roster for the room), or when its ledger head
went backwards. The centre has no head-witness columns yet (the signed head a kiosk reports
at each contact, ARCHITECTURE.md); until it does, `head_went_backwards` reads the incidents
ingest raises for a rollback and `last seq received` (`max_seq`) is shown as the head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centre.crud.heads import HEAD_KINDS
from centre.crud.rosters import roster_text
from centre.models import Device, Incident, StoredRecord
from centre.models import Roster as RosterRow
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.canonical import format_ts, parse_ts
from kiosk.protocol.errors import CodedError

# A kiosk syncs every few seconds while it is up; ten minutes without contact is an outage.
SILENT_AFTER = timedelta(minutes=10)
# Incident kinds that mean the device's chain head moved backwards. The head-witness work
# adds its own kind here; nothing else in the console needs to change.
HEAD_REGRESSION_KINDS = ("rollback", "head_regressed", "fork", *HEAD_KINDS)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DoorHealth:
    device_id: str
    room: str | None
    label: str | None
    status: str
    last_seen_at: datetime | None
    head_seq: int  # contiguous verified chain
    last_seq_received: int
    clock_skew_s: float | None
    session_open: bool
    silent: bool
    head_regressed: bool

    @property
    def waiting(self) -> int:
        """Seqs the centre knows exist (it saw a later one) but has not received."""
        return max(self.last_seq_received - self.head_seq, 0)

    @property
    def alarm(self) -> bool:
        return (self.session_open and self.silent) or self.head_regressed


_session_windows: dict[str, tuple[datetime, datetime] | None] = {}


def _window(row: RosterRow, roster_key: bytes) -> tuple[datetime, datetime] | None:
    """The roster's session window; cached by hash because a roster can be megabytes (and
    is stored encrypted: `roster_text` decrypts it)."""
    if row.sha256 not in _session_windows:
        try:
            session = loads_bounded(roster_text(roster_key, row))["roster"]["session"]
            window = (parse_ts(session["starts_at"]), parse_ts(session["ends_at"]))
        except (ValueError, KeyError, TypeError, CodedError):
            window = None
        _session_windows[row.sha256] = window
    return _session_windows[row.sha256]


def open_rooms(db: Session, now: datetime, roster_key: bytes) -> set[str]:
    newest = (
        select(RosterRow.room, func.max(RosterRow.version).label("v"))
        .group_by(RosterRow.room)
        .subquery()
    )
    q = select(RosterRow).join(
        newest, (RosterRow.room == newest.c.room) & (RosterRow.version == newest.c.v)
    )
    rooms = set()
    for row in db.scalars(q):
        window = _window(row, roster_key)
        if window is not None and window[0] <= now < window[1]:
            rooms.add(row.room)
    return rooms


def latest_clock_skew(db: Session) -> dict[str, float]:
    """Newest `clock_skew` device event per device: seconds the kiosk clock is off."""
    newest = (
        select(StoredRecord.device_id, func.max(StoredRecord.seq).label("seq"))
        .where(
            StoredRecord.type == "device_event",
            StoredRecord.envelope.contains('"event":"clock_skew"'),
        )
        .group_by(StoredRecord.device_id)
        .subquery()
    )
    q = select(StoredRecord.device_id, StoredRecord.envelope).join(
        newest,
        (StoredRecord.device_id == newest.c.device_id) & (StoredRecord.seq == newest.c.seq),
    )
    out: dict[str, float] = {}
    for device_id, envelope in db.execute(q):
        try:
            out[device_id] = float(json.loads(envelope)["record"]["body"]["skew_s"])
        except (ValueError, KeyError, TypeError):
            continue
    return out


def regressed_devices(db: Session) -> set[str]:
    q = (
        select(Incident.device_id)
        .where(Incident.kind.in_(HEAD_REGRESSION_KINDS), Incident.resolved_at.is_(None))
        .group_by(Incident.device_id)
    )
    return {d for (d,) in db.execute(q) if d}


def head_went_backwards(device_id: str, regressed: set[str]) -> bool:
    """Hook for the head witness: today, an open rollback/fork incident for the device."""
    return device_id in regressed


def door_health(db: Session, *, roster_key: bytes, now: datetime | None = None) -> list[DoorHealth]:
    now = now or datetime.now(UTC)
    rooms = open_rooms(db, now, roster_key)
    skew = latest_clock_skew(db)
    regressed = regressed_devices(db)
    out = []
    for d in db.scalars(select(Device).order_by(Device.room, Device.id)):
        seen = _aware(d.last_seen_at)
        out.append(
            DoorHealth(
                device_id=d.id,
                room=d.room,
                label=d.label,
                status=d.status,
                last_seen_at=seen,
                head_seq=d.head_seq,
                last_seq_received=d.max_seq,
                clock_skew_s=skew.get(d.id),
                session_open=d.room in rooms,
                silent=seen is None or now - seen > SILENT_AFTER,
                head_regressed=head_went_backwards(d.id, regressed),
            )
        )
    # Red first: an auditor should not have to scroll to find the broken door.
    out.sort(key=lambda h: (not h.alarm, h.room or "", h.device_id))
    return out


@dataclass
class RoomToday:
    room: str
    checkins: int = 0
    refusals: int = 0
    overrides: int = 0


def today_per_room(db: Session, *, now: datetime | None = None) -> list[RoomToday]:
    now = now or datetime.now(UTC)
    start = format_ts(now.replace(hour=0, minute=0, second=0, microsecond=0))[:10]
    q = (
        select(StoredRecord.room, StoredRecord.type, StoredRecord.decision, func.count())
        .where(StoredRecord.type.in_(("checkin", "override")), StoredRecord.ts >= start)
        .group_by(StoredRecord.room, StoredRecord.type, StoredRecord.decision)
    )
    rooms: dict[str, RoomToday] = {}
    for room, rtype, decision, n in db.execute(q):
        r = rooms.setdefault(room or "—", RoomToday(room or "—"))
        if rtype == "override":
            r.overrides += int(n)
        else:
            r.checkins += int(n)
            if decision in ("rejected", "needs_proctor"):
                r.refusals += int(n)
    return [rooms[k] for k in sorted(rooms)]
