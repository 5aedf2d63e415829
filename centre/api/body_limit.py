"""A request-body size limit for every route, enforced while the body streams in.

FastAPI reads a JSON body (e.g. `POST /users`) into memory *before* it runs the route's
dependencies, so before the bearer key is checked: without this, anyone could make the
centre buffer hundreds of megabytes without a credential. This is a pure ASGI middleware
(no `BaseHTTPMiddleware`, which would buffer the body itself): a declared
``Content-Length`` over the limit is answered 413 before a byte is read, and a chunked
body is counted as it arrives and cut off at the limit.

Limits are per route: ingest and roster uploads may be large; everything else a staff
member or a kiosk sends is a few hundred bytes of JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Staff JSON bodies (a user, an enrolment token) and enrolment requests are tiny.
DEFAULT_LIMIT = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its route's limit. An
    `HTTPException`, so FastAPI's own body reading passes it through as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")
        self.limit = limit


class BodySizeLimit:
    """ASGI middleware: 413 for any request body over the limit of its path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[tuple[str, int]] = (),
        default: int = DEFAULT_LIMIT,
    ) -> None:
        self.app = app
        self.routes = [(re.compile(pattern), limit) for pattern, limit in routes]
        self.default = default

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.routes:
            if pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 400, "bad_request", "Content-Length is not a number")
            return
        if declared > limit:
            await _refuse(send, 413, "body_too_large", f"request body over {limit} bytes")
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # A route that streams the body itself lets the error through unhandled.
            if started:
                raise
            await _refuse(send, 413, "body_too_large", str(exc.detail))


def _content_length(scope: Scope) -> int | None:
    """The declared length; -1 when absent; None when not a plain decimal number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # int() would take "1_000", " +5" or 5000 digits; a length is a few digits.
            if not text.isascii() or not text.isdigit() or len(text) > 18:
                return None
            return int(text)
    return -1


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # the rest of the body is never read: the connection cannot be reused
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["DEFAULT_LIMIT", "BodySizeLimit", "BodyTooLarge"]
