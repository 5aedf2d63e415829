"""Shared route dependencies: the app context, DB sessions, staff roles, device signatures.

Every endpoint either requires a staff role (bearer API key) or a device signature; the
only open ones are `/health` and the centre public key (which is public by nature).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from centre.core.config import CentreSettings
from centre.core.keys import CentreKey
from centre.core.security import Role
from centre.crud.devices import key_history
from centre.crud.users import user_for_token
from centre.models import Device, StaffUser
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.errors import CodedError
from kiosk.protocol.keys import load_public_key_b64
from kiosk.protocol.requests import RequestAuthError, parse_auth_headers, verify_request

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and a stable code; rendered as {"error", "detail"}."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass
class CentreContext:
    settings: CentreSettings
    engine: Engine
    sessions: sessionmaker[Session]
    key: CentreKey
    # SQLite has one writer; serialising writers in-process avoids lock-upgrade deadlocks.
    # PostgreSQL uses row locks (SELECT ... FOR UPDATE) on the device instead.
    sqlite_write_lock: threading.Lock = field(default_factory=threading.Lock)

    def write_lock(self) -> Any:
        return self.sqlite_write_lock if self.settings.is_sqlite else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        db = self.sessions()
        try:
            yield db
        finally:
            db.close()


def context(request: Request) -> CentreContext:
    return request.app.state.centre


def get_db(request: Request) -> Iterator[Session]:
    with context(request).session() as db:
        yield db


def require_role(role: Role) -> Callable[..., StaffUser]:
    """Dependency factory: the bearer key's user, if their role is at least `role`."""

    def dependency(
        authorization: Annotated[str | None, Header()] = None,
        db: Annotated[Session, Depends(get_db)] = None,
    ) -> StaffUser:  # type: ignore[assignment]
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(
                401, "unauthenticated", "a staff API key is required (Authorization: Bearer …)"
            )
        user = user_for_token(db, authorization[7:].strip())
        if user is None:
            raise ApiError(401, "unauthenticated", "API key is not valid")
        if Role.parse(user.role) < role:
            raise ApiError(
                403, "forbidden", f"this needs the {role.name} role; you are {user.role}"
            )
        return user

    return dependency


def authenticate_device(
    ctx: CentreContext,
    db: Session,
    request: Request,
    body: bytes,
    path_device_id: str | None,
    *,
    lock: bool = False,
    extra_keys: Callable[[Device], list[str]] | None = None,
) -> Device:
    """The active device that signed this request, or an `ApiError` (401/403).

    The request may be signed by any key in the device's history (a kiosk signs with its
    current key; the centre may not have seen the newest rotation yet, see `extra_keys`).
    """
    try:
        device_id, ts, sig = parse_auth_headers(request.headers)
    except RequestAuthError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    if path_device_id is not None and device_id != path_device_id:
        raise ApiError(
            403,
            "device_mismatch",
            f"request signed by {device_id!r} is for device {path_device_id!r}",
        )
    device = db.get(Device, device_id, with_for_update=lock and not ctx.settings.is_sqlite)
    if device is None:
        raise ApiError(401, "device_unknown", f"device {device_id!r} is not enrolled")
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    keys = [k for _, k in reversed(key_history(db, device.id))] or [device.public_key]

    def attempt(candidates: list[str]) -> RequestAuthError | None:
        error = RequestAuthError("no key to verify the request with", code="bad_signature")
        for key_b64 in candidates:
            try:
                verify_request(
                    load_public_key_b64(key_b64),
                    device_id,
                    ts,
                    sig,
                    request.method,
                    path,
                    body,
                    window_s=ctx.settings.request_window_s,
                )
                return None
            except RequestAuthError as exc:
                error = exc
                if exc.code == "stale_request":
                    break
            except CodedError as exc:
                error = RequestAuthError(str(exc), code="bad_device_key")
        return error

    error = attempt(keys)
    if error is not None and error.code != "stale_request" and extra_keys is not None:
        announced = [k for k in extra_keys(device) if k not in keys]
        if announced:  # an empty list must never count as "verified"
            error = attempt(announced)
    if error is not None:
        raise ApiError(401, error.code, str(error))
    if device.status != "active":
        raise ApiError(403, "device_revoked", f"device {device_id!r} is {device.status}")
    return device


DbSession = Annotated[Session, Depends(get_db)]
Viewer = Annotated[StaffUser, Depends(require_role(Role.viewer))]
Auditor = Annotated[StaffUser, Depends(require_role(Role.auditor))]
Admin = Annotated[StaffUser, Depends(require_role(Role.admin))]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes before reading it all (413)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON (no NaN/Infinity), or a 400 that says what is wrong."""
    try:
        return loads_bounded(body, parse_constant=_no_constants)
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from None
