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

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from centre.api.deps import ApiError, CentreContext
from centre.api.routes import devices, reports, rosters, staff
from centre.console import mount_console
from centre.core.config import CentreSettings
from centre.core.keys import CentreKey
from centre.db import make_engine, migrate, session_factory

log = logging.getLogger(__name__)


def build_context(settings: CentreSettings) -> CentreContext:
    engine = make_engine(settings)
    if settings.migrate_on_start:
        migrate(settings, engine)
    return CentreContext(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        key=CentreKey.load_or_create(settings.data_dir),
    )


def create_app(settings: CentreSettings | None = None) -> FastAPI:
    settings = settings or CentreSettings.from_config()
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
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
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

    log.info(
        "centre ready (db %s, key id %s)",
        ctx.engine.url.render_as_string(hide_password=True),
        ctx.key.key_id,
    )
    return app
