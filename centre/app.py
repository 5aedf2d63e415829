"""The FastAPI app factory.

`create_app(settings)` opens the database, migrates it (unless told not to), loads or
creates the centre signing key and mounts the routes. Every error leaves as JSON
``{"error": code, "detail": sentence}`` with a 4xx status; a 500 means a bug and is logged
with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from centre.api.body_limit import BodySizeLimit
from centre.api.deps import ApiError, CentreContext
from centre.api.routes import devices, reports, rosters, staff
from centre.console import mount_console
from centre.core.config import CentreSettings
from centre.core.keys import CentreKey
from centre.crud.rosters import purge_rosters, seal_legacy_rosters
from centre.db import make_engine, migrate, session_factory
from centre.errors import CentreError
from centre.models import utcnow
from kiosk.storage import describe_loose, loose_paths

log = logging.getLogger(__name__)


def build_context(settings: CentreSettings) -> CentreContext:
    key = CentreKey.load_or_create(settings.data_dir, settings.key_passphrase)
    engine = make_engine(settings)
    loose = loose_paths(settings.data_dir)  # its keys, database and WAL are nobody else's
    if loose:
        raise CentreError(
            f"refusing to start: {describe_loose(settings.data_dir, loose)}",
            code="file_permissions_loose",
        )
    if settings.migrate_on_start:
        migrate(settings, engine)
    ctx = CentreContext(settings=settings, engine=engine, sessions=session_factory(engine), key=key)
    if settings.migrate_on_start:
        with ctx.session() as db:
            sealed = seal_legacy_rosters(db, key.roster_key)
            purged = purge_rosters(db, utcnow(), timedelta(days=settings.roster_retention_days))
            db.commit()
        if sealed or purged:
            log.warning("rosters: %d encrypted at rest, %d purged after retention", sealed, purged)
    return ctx


def create_app(settings: CentreSettings | None = None) -> FastAPI:
    settings = settings or CentreSettings.load()
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.engine.dispose()

    app = FastAPI(
        title="Exam-door kiosk centre",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.centre = ctx

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"error": "invalid_request", "detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "internal", "detail": "internal error; see the centre log"}, status_code=500
        )

    for module in (staff, devices, rosters, reports):
        app.include_router(module.router)
    mount_console(app)
    # Outside every route, so no body is buffered before authentication (see body_limit).
    app.add_middleware(
        BodySizeLimit,
        routes=[
            (r"/api/v1/devices/[^/]+/records", settings.max_body_bytes),
            (r"/api/v1/rosters/[^/]+", rosters.ROSTER_BODY_LIMIT),
            # the console's roster form posts the signed roster JSON pasted into a textarea
            (r"/console/rosters", rosters.ROSTER_BODY_LIMIT),
        ],
    )

    log.info(
        "centre ready (db %s, key id %s)",
        ctx.engine.url.render_as_string(hide_password=True),
        ctx.key.key_id,
    )
    return app
