"""The centre's web console: server-rendered pages for auditors and administrators.

`mount_console(app)` is the one hook `centre/app.py` calls. It adds the routes under
`/console`, the stylesheet, the HTML error pages for console paths and the security headers
(CSP without any script, no framing) on every response the app sends.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centre.console import routes_admin, routes_audit, routes_auth
from centre.console.web import (
    BASE_PATH,
    HERE,
    SECURITY_HEADERS,
    ConsoleDenied,
    SignInRequired,
    current_page,
    path_prefix,
)

# Swagger UI loads its script from a CDN; the strict policy would blank it.
_DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task) adding SECURITY_HEADERS to responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _DOCS_PATHS:
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.raw if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_console(app: FastAPI) -> None:
    for module in (routes_auth, routes_audit, routes_admin):
        app.include_router(module.router, prefix=BASE_PATH, include_in_schema=False)
    app.mount(f"{BASE_PATH}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        return RedirectResponse(path_prefix(request) + BASE_PATH + "/signin", status_code=303)

    @app.exception_handler(ConsoleDenied)
    async def _denied(request: Request, exc: ConsoleDenied) -> Response:
        ctx = request.app.state.centre
        with ctx.session() as db:
            page = current_page(request, db)
            response: HTMLResponse = page.render(
                "error.html", status=exc.status, message_key=exc.message_key
            )
        return response
