"""Typed dependencies of the routes: the shared state, the store, the caller and their role."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tirta.api.auth import CSRF_HEADER, SESSION_COOKIE, Principal, csrf_matches, role_allows
from tirta.api.errors import ApiError
from tirta.api.settings import ApiSettings
from tirta.api.users import Users
from tirta.balance import Billing, load_billing
from tirta.network import DMA, Network, load_dmas, load_network
from tirta.telemetry.store import Store

__all__ = [
    "Admin",
    "AppState",
    "Operator",
    "RateLimiter",
    "StateDep",
    "StoreDep",
    "Viewer",
    "get_state",
    "require",
    "session_principal",
]


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to that many."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed (a token is used), else the seconds to wait for the next token."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


@dataclass
class AppState:
    """What every request shares: settings, the open store, the users and the model (loaded once)."""

    settings: ApiSettings
    store: Store
    users: Users
    limiter: RateLimiter
    _model: tuple[Network, list[DMA]] | None = None
    _billing: Billing | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def model(self) -> tuple[Network, list[DMA]]:
        """The network and its DMAs, read on first use."""
        with self._lock:
            if self._model is None:
                net = load_network(self.settings.network)
                self._model = (net, load_dmas(self.settings.dmas, net))
            return self._model

    def billing(self) -> Billing | None:
        """The billing file of the settings, read and checked on first use; None without one."""
        if self.settings.billing is None:
            return None
        with self._lock:
            if self._billing is None:
                self._billing = load_billing(self.settings.billing)
            return self._billing


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.tirta
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_store(state: StateDep) -> Store:
    return state.store


StoreDep = Annotated[Store, Depends(get_store)]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def session_principal(state: AppState, request: Request) -> Principal | None:
    """The dashboard user of the session cookie, or None; 403 for a non-GET without its CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    who = state.users.session(token)
    if who is None:
        return None
    if request.method not in _SAFE_METHODS and not csrf_matches(token, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, f"a missing or wrong {CSRF_HEADER} header", field=CSRF_HEADER)
    return who


def current_principal(
    state: StateDep,
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key``, else the dashboard's session
    cookie (with its CSRF header on non-GET requests); 401 when missing or wrong. Every credential
    sent must be valid: a wrong ``Authorization`` header is refused even beside a good ``X-API-Key``."""
    challenge = {"WWW-Authenticate": "Bearer"}
    given = request.headers.get("authorization")
    if given is not None and bearer is None:
        raise ApiError(401, "the Authorization header must be 'Bearer <API key>'", headers=challenge)
    keys = [k for k in (bearer.credentials if bearer is not None else None, header) if k is not None]
    if not keys:
        who = session_principal(state, request)
        if who is not None:
            return who
        raise ApiError(401, "an API key is required", headers=challenge)
    found = [state.users.authenticate(k) for k in dict.fromkeys(keys)]
    if any(w is None for w in found) or len({(w.user, w.key_id) for w in found if w}) != 1:
        raise ApiError(401, "invalid API key", headers=challenge)
    who = found[0]
    assert who is not None
    return who


def require(role: str) -> object:
    """A dependency giving the caller when their role ranks at least ``role``; 403 otherwise."""

    def check(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not role_allows(who.role, role):
            raise ApiError(403, f"this needs the role '{role}'; yours is '{who.role}'")
        return who

    return Depends(check)


Viewer = Annotated[Principal, require("viewer")]
Operator = Annotated[Principal, require("operator")]
Admin = Annotated[Principal, require("admin")]
