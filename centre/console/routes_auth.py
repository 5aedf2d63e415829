"""Sign-in, sign-out, the language switch and the console's front door."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from centre.api.deps import context
from centre.console.i18n import LANG_COOKIE, LANGUAGES
from centre.console.web import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    AnyPage,
    Form,
    new_presession_token,
)
from centre.core.security import Role
from centre.crud.console_auth import (
    SESSION_TTL,
    SignInRefused,
    authenticate,
    close_session,
    open_session,
)

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/")
def front_door(page: AnyPage) -> Response:
    if page.signed_in is None:
        return page.redirect("/signin")
    return page.redirect("/dashboard" if page.can(Role.auditor) else "/overrides")


@router.get("/signin")
def signin_form(page: AnyPage) -> Response:
    if page.signed_in is not None:
        return page.redirect("/")
    token = new_presession_token()
    response = page.render("signin.html", csrf=token, error=None, name="")
    page.set_cookie(response, PRESESSION_COOKIE, token, max_age=3600)
    return response


@router.post("/signin")
def signin(page: AnyPage, form: Form, request: Request) -> Response:
    ctx = context(request)
    name = form.get("name", "")[:100]
    with ctx.write_lock():
        try:
            user = authenticate(page.db, name, form.get("password", ""))
        except SignInRefused as exc:
            page.db.commit()  # keep the failed-attempt count
            log.warning("console sign-in refused for %r (%s)", name, exc.code)
            token = new_presession_token()
            response = page.render(
                "signin.html", status=401, csrf=token, error="signin.refused", name=name
            )
            page.set_cookie(response, PRESESSION_COOKIE, token, max_age=3600)
            return response
        cookie, _ = open_session(page.db, user)
        page.db.commit()
    log.info("console sign-in: %s (%s)", user.name, user.role)
    response = page.redirect("/")
    page.set_cookie(response, SESSION_COOKIE, cookie, max_age=int(SESSION_TTL.total_seconds()))
    response.delete_cookie(PRESESSION_COOKIE, path=page.base)
    return response


@router.post("/signout")
def signout(page: AnyPage, form: Form, request: Request) -> Response:
    with context(request).write_lock():
        close_session(page.db, request.cookies.get(SESSION_COOKIE))
        page.db.commit()
    response = page.redirect("/signin")
    response.delete_cookie(SESSION_COOKIE, path=page.base)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, page: AnyPage, next: str = "/") -> Response:
    # Only a path inside the console: never an open redirect.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response: RedirectResponse = page.redirect(target)
    if code in LANGUAGES:
        page.set_cookie(response, LANG_COOKIE, code, max_age=365 * 24 * 3600)
    return response
