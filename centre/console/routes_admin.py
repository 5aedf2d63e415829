"""Administration pages: devices and enrolment tokens, rosters, staff (admin only).

Each action calls the same crud function as the API endpoint that does it, under the same
role (admin) and the same SQLite write lock.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from centre.api.deps import context
from centre.console.web import AdminPage, ConsoleDenied, Form
from centre.core.security import Role
from centre.crud import devices as crud_devices
from centre.crud import staff_admin
from centre.crud import users as crud_users
from centre.crud.console_auth import PasswordTooWeak, set_password
from centre.crud.device_admin import recent_rosters, recent_tokens, users_with_password
from centre.crud.door_health import door_health
from centre.crud.rosters import publish_roster, roster_text
from centre.models import Roster
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.errors import CodedError

log = logging.getLogger(__name__)
router = APIRouter()


def _devices_page(page: AdminPage, **extra: Any) -> Response:
    return page.render(
        "devices.html",
        doors=door_health(page.db, roster_key=context(page.request).key.roster_key),
        tokens=recent_tokens(page.db),
        **({"new_token": None, "token_room": None} | extra),
    )


@router.get("/devices")
def devices(page: AdminPage) -> Response:
    return _devices_page(page)


@router.post("/devices/tokens")
def new_enrolment_token(page: AdminPage, form: Form, request: Request) -> Response:
    ctx = context(request)
    room = form.get("room", "").strip()[:64]
    if not room:
        raise ConsoleDenied(400, "error.room_required")
    with ctx.write_lock():
        row, token = crud_devices.create_enrolment_token(
            page.db,
            ttl_s=ctx.settings.enrolment_token_ttl_s,
            room=room,
            label=form.get("label", "").strip()[:200] or None,
        )
        page.db.commit()
    log.info("enrolment token for room %s created by %s (console)", room, page.user.name)
    # Shown once, on this response only: the centre keeps just its hash.
    return _devices_page(page, new_token=token, token_room=row.room)


@router.post("/devices/{device_id}/status")
def device_status(device_id: str, page: AdminPage, form: Form, request: Request) -> Response:
    status = form.get("status", "")
    with context(request).write_lock():
        try:
            crud_devices.set_device_status(page.db, device_id, status)
        except CodedError:
            raise ConsoleDenied(404, "error.not_found") from None
        page.db.commit()
    log.warning("device %s set %s by %s (console)", device_id, status, page.user.name)
    return page.redirect("/devices")


def _rosters_page(page: AdminPage, status: int = 200, **extra: Any) -> Response:
    values = {"error": None, "published": None, "room": "", "doc": ""} | extra
    return page.render("rosters.html", status=status, rosters=recent_rosters(page.db), **values)


@router.get("/rosters")
def rosters(page: AdminPage) -> Response:
    return _rosters_page(page)


@router.post("/rosters")
def upload_roster(page: AdminPage, form: Form, request: Request) -> Response:
    ctx = context(request)
    room, text = form.get("room", "").strip()[:64], form.get("doc", "")
    try:
        doc = loads_bounded(text)
    except ValueError as exc:
        return _rosters_page(page, 422, error=f"JSON: {exc}", room=room, doc=text)
    with ctx.write_lock():
        try:
            row = publish_roster(page.db, ctx.key, room, doc, created_by=page.user.name)
            page.db.commit()
        except (CodedError, IntegrityError) as exc:
            page.db.rollback()
            return _rosters_page(page, 422, error=str(exc), room=room, doc=text)
    log.info("roster %s v%d published by %s (console)", row.room, row.version, page.user.name)
    return _rosters_page(page, published=row)


@router.get("/rosters/{roster_id}")
def roster(roster_id: int, page: AdminPage, request: Request) -> Response:
    row = page.db.get(Roster, roster_id)
    if row is None:
        raise ConsoleDenied(404, "error.not_found")
    try:
        doc = loads_bounded(roster_text(context(request).key.roster_key, row))["roster"]
    except CodedError as exc:  # purged after its session, or not decryptable
        raise ConsoleDenied(410, "error.roster_unavailable") from exc
    # Names and masked IINs only: templates never reach a page.
    applicants = [
        {k: a.get(k) for k in ("applicant_id", "name", "iin", "seat", "booking_code")}
        for a in doc.get("applicants", [])
    ]
    return page.render(
        "roster.html", row=row, session=doc.get("session", {}), applicants=applicants
    )


def _staff_page(page: AdminPage, status: int = 200, **extra: Any) -> Response:
    values = {"error": None, "new_key": None, "new_name": None} | extra
    return page.render(
        "staff.html",
        status=status,
        users=crud_users.list_users(page.db),
        with_password=users_with_password(page.db),
        roles=[r.name for r in Role],
        **values,
    )


@router.get("/staff")
def staff(page: AdminPage) -> Response:
    return _staff_page(page)


@router.post("/staff")
def add_staff(page: AdminPage, form: Form, request: Request) -> Response:
    name, role, password = form.get("name", ""), form.get("role", ""), form.get("password", "")
    with context(request).write_lock():
        try:
            user, key = crud_users.add_user(page.db, name[:100], role)
            if password:
                set_password(page.db, user, password)
            page.db.commit()
        except (CodedError, ValueError) as exc:
            page.db.rollback()
            return _staff_page(page, 422, error=page.error_text(exc))
    log.info("staff user %s (%s) added by %s (console)", user.name, user.role, page.user.name)
    return _staff_page(page, new_key=key, new_name=user.name)


@router.post("/staff/{name}")
def change_staff(name: str, page: AdminPage, form: Form, request: Request) -> Response:
    action = form.get("action", "")
    if name == page.user.name and action in ("disable", "role"):
        # An administrator who demotes or disables themselves can lock everyone out.
        return _staff_page(page, 422, error=page.text("staff.not_self"))
    with context(request).write_lock():
        try:
            if action == "role":
                staff_admin.set_role(page.db, name, form.get("role", ""))
            elif action in ("disable", "enable"):
                staff_admin.set_disabled(page.db, name, action == "disable")
            elif action == "password":
                user = staff_admin.user_by_name(page.db, name)
                set_password(page.db, user, form.get("password", ""))
            else:
                raise ConsoleDenied(400, "error.bad_form")
            page.db.commit()
        except staff_admin.StaffUserNotFound:
            raise ConsoleDenied(404, "error.not_found") from None
        except (PasswordTooWeak, ValueError) as exc:
            page.db.rollback()
            return _staff_page(page, 422, error=page.error_text(exc))
    log.warning("staff user %s: %s by %s (console)", name, action, page.user.name)
    return page.redirect("/staff")
