"""What every console page shares: who is signed in, CSRF, templates, security headers.

Pages are plain HTML forms: no script at all, so the Content-Security-Policy can forbid
every script and inline style outright. Errors a person can cause (signed out, wrong role,
stale form) become a short page or a redirect, never a traceback or a JSON blob.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from centre.api.deps import get_db
from centre.console.i18n import LANGUAGES, Translator, catalogue, request_language
from centre.core.security import Role
from centre.crud.console_auth import SignedIn, same_token, session_user
from centre.models import StaffUser

HERE = Path(__file__).resolve().parent
BASE_PATH = "/console"
SESSION_COOKIE = "kc_session"
# Before sign-in there is no session to hold a CSRF token: the sign-in form uses a
# double-submit cookie instead.
PRESESSION_COOKIE = "kc_presession"
FORM_LIMIT = 32 * 1024 * 1024  # a pasted roster with templates can be megabytes
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def mask_iin(value: object) -> str:
    """`********1234`: enough to tell two applicants apart, not enough to be the IIN."""
    text = "" if value is None else str(value)
    return "*" * max(len(text) - 4, 4) + text[-4:] if len(text) > 4 else "****"


templates.filters["mask_iin"] = mask_iin


class ConsoleDenied(Exception):
    """A console request refused with a page: 403 (role, CSRF) or 404."""

    def __init__(self, status: int, message_key: str) -> None:
        super().__init__(message_key)
        self.status, self.message_key = status, message_key


class SignInRequired(Exception):
    """Not signed in (or the session expired): go to the sign-in page."""


def path_prefix(request: Request) -> str:
    """The reverse proxy's path prefix (X-Forwarded-Prefix, else the ASGI root_path)."""
    forwarded = request.headers.get("x-forwarded-prefix", "").rstrip("/")
    prefix = forwarded or str(request.scope.get("root_path", "")).rstrip("/")
    return prefix if _PREFIX_RE.match(prefix) else ""


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip().lower() == "https"


@dataclass
class Page:
    """The per-request view of the console: language, links, the signed-in user."""

    request: Request
    db: Session
    signed_in: SignedIn | None

    @property
    def lang(self) -> str:
        return request_language(self.request)

    @property
    def base(self) -> str:
        return path_prefix(self.request) + BASE_PATH

    def url(self, path: str = "/") -> str:
        return self.base + path

    @property
    def user(self) -> StaffUser:
        if self.signed_in is None:
            raise SignInRequired()
        return self.signed_in.user

    @property
    def role(self) -> Role | None:
        return Role.parse(self.signed_in.user.role) if self.signed_in else None

    def can(self, role: Role) -> bool:
        return self.role is not None and self.role >= role

    def text(self, key: str, **values: Any) -> str:
        return Translator(self.lang)(key, **values)

    def error_text(self, exc: Exception) -> str:
        """A translated sentence for a known error code; the error's own words otherwise."""
        code = getattr(exc, "code", "invalid_value")
        strings = catalogue(self.lang)
        return strings.get(f"error.{code}", str(exc))

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        t = Translator(self.lang)
        given = values.pop("csrf", "")
        csrf = self.signed_in.csrf_token if self.signed_in else given
        html = templates.get_template(template).render(
            t=t,
            page=self,
            csrf=csrf,
            languages=LANGUAGES,
            here=here(self.request),
            Role=Role,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(self.url(path), status_code=303)

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.base,
            httponly=True,
            secure=is_https(self.request),
            samesite="strict",
        )


def current_page(request: Request, db: Annotated[Session, Depends(get_db)]) -> Page:
    return Page(request, db, session_user(db, request.cookies.get(SESSION_COOKIE)))


def require(role: Role) -> Callable[..., Page]:
    """Dependency factory: the page of a signed-in user whose role is at least `role`.

    The roles are the API's (`centre.api.deps.require_role`): the console never lets a
    person do in a browser what their API key could not.
    """

    def dependency(page: Annotated[Page, Depends(current_page)]) -> Page:
        if page.signed_in is None:
            raise SignInRequired()
        if not page.can(role):
            raise ConsoleDenied(403, "error.role")
        return page

    return dependency


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form (the only kind the console's pages post), first value per name."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise ConsoleDenied(413, "error.too_large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleDenied(400, "error.bad_form") from None
    return {k: v[0] for k, v in parsed.items()}


async def csrf_form(request: Request) -> dict[str, str]:
    """The posted form, refused with 403 unless its `csrf` field matches the session's.

    The session is looked up again here (not via `require`) so a form with no token is
    refused before anything else happens, whatever the route does next.
    """
    form = await read_form(request)
    ctx = request.app.state.centre
    with ctx.session() as db:
        signed_in = session_user(db, request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        expected = request.cookies.get(PRESESSION_COOKIE, "")
    else:
        expected = signed_in.csrf_token
    if not expected or not same_token(expected, form.get("csrf")):
        raise ConsoleDenied(403, "error.csrf")
    return form


def new_presession_token() -> str:
    return secrets.token_urlsafe(32)


Form = Annotated[dict[str, str], Depends(csrf_form)]
ViewerPage = Annotated[Page, Depends(require(Role.viewer))]
AuditorPage = Annotated[Page, Depends(require(Role.auditor))]
AdminPage = Annotated[Page, Depends(require(Role.admin))]
AnyPage = Annotated[Page, Depends(current_page)]


def page_number(value: str | None) -> int:
    try:
        return max(int(value or 1), 1)
    except ValueError:
        return 1


def here(request: Request) -> str:
    """The current page's path inside the console, with its query (for ?next=)."""
    path = request.url.path
    inner = path[path.find(BASE_PATH) + len(BASE_PATH) :] if BASE_PATH in path else "/"
    return (inner or "/") + (f"?{request.url.query}" if request.url.query else "")
