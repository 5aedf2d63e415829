"""The auditor's pages: dashboard, overrides (chart, list, detail, CSV) and incidents."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from centre.api.deps import context
from centre.console.charts import rate_chart
from centre.console.csv_export import to_csv
from centre.console.web import AuditorPage, ConsoleDenied, Form, ViewerPage, page_number
from centre.core.security import Role
from centre.crud import incident_acks
from centre.crud.door_health import door_health, today_per_room
from centre.crud.override_audit import (
    PAGE_SIZE,
    OverrideFilter,
    override_detail,
    override_page,
    rates_per_day,
    reasons,
)
from centre.crud.reports import override_report
from centre.models import Incident

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/dashboard")
def dashboard(page: AuditorPage) -> Response:
    return page.render(
        "dashboard.html",
        doors=door_health(page.db, roster_key=context(page.request).key.roster_key),
        rooms=today_per_room(page.db),
    )


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _filter(request: Request) -> OverrideFilter:
    q = request.query_params
    return OverrideFilter(
        room=q.get("room") or None,
        proctor=q.get("proctor") or None,
        reason=q.get("reason") or None,
        since=q.get("since") or None,
        until=q.get("until") or None,
    )


def _query(flt: OverrideFilter, **extra: object) -> str:
    items = {k: v for k, v in flt.__dict__.items() if v} | {k: v for k, v in extra.items() if v}
    return urlencode(items)


@router.get("/overrides")
def overrides(page: ViewerPage, request: Request) -> Response:
    """Rates per proctor, room and day against the alert line; auditors also get the list."""
    flt = _filter(request)
    alert = context(request).settings.override_rate_alert
    report = override_report(page.db, alert=alert, since=flt.since, until=flt.until, room=flt.room)
    auditor = page.can(Role.auditor)

    def link(**kw: str) -> str | None:
        return page.url("/overrides?" + _query(flt, **kw)) if auditor else None

    def rows(groups: list[dict], key: str) -> list:
        return [
            (
                g["key"],
                g["override_rate"],
                f"{g['overrides']} / {g['checkins']}",
                g["flagged"],
                link(**{key: g["key"]}) if key else None,
            )
            for g in groups
        ]

    days = rates_per_day(page.db, flt)
    charts = {
        "proctor": rate_chart(rows(report.proctors, "proctor"), alert),
        "room": rate_chart(rows(report.rooms, "room"), alert),
        "day": rate_chart(
            [
                (
                    d.day,
                    d.rate,
                    f"{d.overrides} / {d.checkins}",
                    d.rate > alert,
                    link(since=d.day, until=next_day(d.day)),
                )
                for d in days
            ],
            alert,
            limit=31,
        ),
    }
    listing, total, number = [], 0, page_number(request.query_params.get("page"))
    if auditor:
        listing, total = override_page(page.db, flt, page=number)
    return page.render(
        "overrides.html",
        flt=flt,
        alert=alert,
        totals=report.totals,
        charts=charts,
        listing=listing,
        total=total,
        number=number,
        pages=max(-(-total // PAGE_SIZE), 1),
        reasons=reasons() if auditor else [],
        query=lambda **kw: _query(flt, **kw),
        auditor=auditor,
    )


@router.get("/overrides.csv")
def overrides_csv(page: ViewerPage, request: Request) -> Response:
    """The API's override report (same rows), with formula-looking cells defused."""
    flt = _filter(request)
    report = override_report(
        page.db,
        alert=context(request).settings.override_rate_alert,
        since=flt.since,
        until=flt.until,
        room=flt.room,
    )
    cols = ["checkins", "accepted", "rejections", "needs_proctor", "overrides", "override_rate"]
    rows = [
        [scope, g["key"], ";".join(g["rooms"]), *(g[c] for c in cols), g["flagged"]]
        for scope, groups in (
            ("session", report.sessions),
            ("room", report.rooms),
            ("proctor", report.proctors),
            ("total", [report.totals]),
        )
        for g in groups
    ]
    return Response(
        to_csv(["scope", "key", "rooms", *cols, "flagged"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="overrides.csv"'},
    )


@router.get("/overrides/{record_id}")
def override(record_id: str, page: AuditorPage) -> Response:
    detail = override_detail(page.db, record_id)
    if detail is None:
        raise ConsoleDenied(404, "error.not_found")
    return page.render("override.html", d=detail)


@router.get("/incidents")
def incidents(page: AuditorPage, request: Request) -> Response:
    q = request.query_params
    kind, unacked = q.get("kind") or None, q.get("unacked") == "1"
    number = page_number(q.get("page"))
    rows, total = incident_acks.incident_page(
        page.db, kind=kind, device_id=q.get("device") or None, unacked_only=unacked, page=number
    )
    return page.render(
        "incidents.html",
        rows=rows,
        total=total,
        number=number,
        pages=max(-(-total // incident_acks.PAGE_SIZE), 1),
        kinds=sorted(incident_acks.kinds_present(page.db)),
        events=incident_acks.watched_device_events(page.db),
        kind=kind,
        unacked=unacked,
        query=lambda **kw: urlencode(
            {k: v for k, v in {"kind": kind, "unacked": "1" if unacked else "", **kw}.items() if v}
        ),
    )


@router.get("/incidents/{incident_id}")
def incident(incident_id: int, page: AuditorPage) -> Response:
    inc = page.db.get(Incident, incident_id)
    if inc is None:
        raise ConsoleDenied(404, "error.not_found")
    return page.render("incident.html", inc=inc, acks=incident_acks.acks_for(page.db, inc.id))


@router.post("/incidents/{incident_id}/ack")
def acknowledge(incident_id: int, page: AuditorPage, form: Form, request: Request) -> Response:
    with context(request).write_lock():
        try:
            incident_acks.acknowledge(page.db, incident_id, page.user, form.get("note", ""))
        except incident_acks.IncidentNotFound:
            raise ConsoleDenied(404, "error.not_found") from None
        page.db.commit()
    log.info("incident %d acknowledged by %s", incident_id, page.user.name)
    return page.redirect(f"/incidents/{incident_id}")
