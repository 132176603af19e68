"""``/login`` and ``/logout``: a password login opening a server-side session held in an HttpOnly cookie."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tirta.api.auth import SESSION_COOKIE
from tirta.api.deps import get_state
from tirta.web.session import (
    LOGIN_CSRF_COOKIE,
    PageUser,
    check_login_csrf,
    form_for,
    new_login_csrf,
    read_form,
)
from tirta.web.state import render, web_state

router = APIRouter(include_in_schema=False)
log = logging.getLogger("tirta.web.auth")


def _safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(c.isspace() or ord(c) < 32 for c in target):  # browsers drop tabs: "/\t/x" is "//x"
        return "/"
    return target


def _login_page(
    request: Request, status: int = 200, error: str | None = None, name: str = ""
) -> Response:
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        status,
        csrf=token,
        error=error,
        name=name,
        next=_safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form."""
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check name and password, open a session and set its cookie; 401 with the form again when wrong."""
    form = await read_form(request)
    check_login_csrf(request, form)
    name = form.get("username", "").strip()[:64]
    web = web_state(request)
    if web.logins.take(f"login:{name.lower()}") > 0:
        log.warning("login refused for %r: too many attempts", name)
        return _login_page(request, 429, "Too many attempts; wait a minute.", name)
    users = get_state(request).users
    who = users.check_password(name, form.get("password", ""))
    if who is None:
        log.info("login failed for %r", name)
        return _login_page(request, 401, "Wrong user name or password.", name)
    token = users.new_session(who.user, web.session_ttl_s)
    log.info("login: %s (%s)", who.user, who.role)
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(web.session_ttl_s),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, user: PageUser) -> Response:
    """End the session (revoked server-side) and clear its cookie."""
    await form_for(request, user)
    get_state(request).users.end_session(request.cookies.get(SESSION_COOKIE, ""))
    log.info("logout: %s", user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
