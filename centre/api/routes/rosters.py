"""Roster publishing (admin uploads, the centre signs) and pulling (kiosks, admin)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from centre.api.deps import (
    Admin,
    ApiError,
    CentreContext,
    authenticate_device,
    context,
    parse_json,
    read_body,
)
from centre.core.security import Role
from centre.crud.rosters import latest_roster, publish_roster, purge_rosters, roster_text
from centre.crud.users import user_for_token
from centre.models import utcnow
from kiosk.protocol.errors import CodedError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")

ROSTER_BODY_LIMIT = 32 * 1024 * 1024  # templates are ~700 bytes each in base64


@router.post("/rosters/{room}", status_code=201)
async def upload_roster(*, room: str, request: Request, user: Admin) -> dict[str, Any]:
    """Upload an unsigned roster document for `room`; the centre versions and signs it."""
    ctx = context(request)
    body = await read_body(request, ROSTER_BODY_LIMIT)
    return await run_in_threadpool(_publish, ctx, room, body, user.name)


def _publish(ctx: CentreContext, room: str, body: bytes, who: str) -> dict[str, Any]:
    doc = parse_json(body)
    with ctx.write_lock(), ctx.session() as db:
        try:
            row = publish_roster(db, ctx.key, room, doc, created_by=who)
            purge_rosters(db, utcnow(), timedelta(days=ctx.settings.roster_retention_days))
            db.commit()
        except CodedError as exc:
            db.rollback()
            raise ApiError(422, exc.code, str(exc)) from None
        except IntegrityError:
            db.rollback()
            raise ApiError(
                409,
                "roster_conflict",
                "another roster was published at the same moment; upload again",
            ) from None
    log.info("roster for %s version %d published by %s", room, row.version, who)
    return {
        "room": row.room,
        "version": row.version,
        "sha256": row.sha256,
        "key_id": ctx.key.key_id,
    }


def _latest(ctx: CentreContext, request: Request, room: str) -> str:
    with ctx.session() as db:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            user = user_for_token(db, auth[7:].strip())
            if user is None:
                raise ApiError(401, "unauthenticated", "API key is not valid")
            if Role.parse(user.role) < Role.admin:
                raise ApiError(403, "forbidden", "rosters hold personal data; admin only")
        else:
            device = authenticate_device(ctx, db, request, b"", None)
            if device.room and device.room != room:
                raise ApiError(
                    403, "wrong_room", f"device {device.id} is enrolled for room {device.room}"
                )
        row = latest_roster(db, room)
        if row is None:
            raise ApiError(404, "roster_not_found", f"no roster published for room {room!r}")
        try:
            return roster_text(ctx.key.roster_key, row)
        except CodedError as exc:
            status = 410 if exc.code == "roster_purged" else 500
            raise ApiError(status, exc.code, str(exc)) from None


@router.get("/rosters/{room}/latest")
async def get_latest_roster(*, room: str, request: Request) -> Response:
    """The newest signed roster for `room`, exactly as signed (device signature or admin)."""
    text = await run_in_threadpool(_latest, context(request), request, room)
    return Response(text, media_type="application/json")
