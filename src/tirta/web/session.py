"""Dashboard access: the session cookie, the logged-in user of a page, CSRF checks of form posts.

Pages ask for :data:`PageUser`; without a live session they redirect to ``/login``. Form posts carry
the session's CSRF token in a hidden ``csrf`` field (:func:`form_for`); a missing or wrong one is 403.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request

from tirta.api.auth import SESSION_COOKIE, Principal, csrf_for, csrf_matches, role_allows
from tirta.api.deps import AppState, get_state
from tirta.api.errors import ApiError

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "LoginRequired",
    "PageUser",
    "WebUser",
    "check_login_csrf",
    "form_for",
    "new_login_csrf",
    "page_user",
    "read_form",
]

LOGIN_CSRF_COOKIE = "tirta_login_csrf"  # double-submit token of the login form (no session yet)
MAX_FORM_BYTES = 16_384


class LoginRequired(Exception):
    """A page was asked for without a live session: answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__("login required")
        self.next_url = next_url


@dataclass(frozen=True)
class WebUser:
    """The logged-in user of a page: name, role and the CSRF token their forms carry."""

    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        """True when the user's role ranks at least ``role``."""
        return role_allows(self.role, role)


def _session(request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    state: AppState = get_state(request)
    return state.users.session(token)


def page_user(request: Request) -> WebUser:
    """The user of a live session; :class:`LoginRequired` (a redirect to /login) otherwise."""
    who = _session(request)
    if who is None or who.session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(quote(target, safe="/?=&"))
    return WebUser(who.user, who.role, csrf_for(who.session))


PageUser = Annotated[WebUser, Depends(page_user)]


async def read_form(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form body (first value of each); 413 above 16 kB."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "the form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the form is not UTF-8") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


async def form_for(request: Request, user: WebUser) -> dict[str, str]:
    """The form of a logged-in user's post, after checking its CSRF token (403 when missing or wrong)."""
    form = await read_form(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if not csrf_matches(token, form.get("csrf")):
        raise ApiError(403, "a missing or wrong CSRF token; reload the page and try again", field="csrf")
    return form


def new_login_csrf() -> str:
    """A random token for the login form and its cookie (double submit)."""
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, form: dict[str, str]) -> None:
    """403 unless the login form's hidden token equals its cookie."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = form.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie, given):
        raise ApiError(403, "a missing or wrong CSRF token; reload the login page", field="csrf")
