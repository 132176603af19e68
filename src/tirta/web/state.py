"""What the dashboard keeps between requests: session lifetime, login limits, caches, templates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from tirta.api.deps import RateLimiter, get_state
from tirta.api.prefs import user_units
from tirta.web.mapdata import SnapshotCache

__all__ = ["TtlCache", "WebState", "render", "shown_units", "web_state"]

T = TypeVar("T")


class TtlCache:
    """Results of slow page computations (balances) for ``ttl_s`` seconds, by key."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], T]) -> T:
        """The cached value of ``key``, or ``make()`` stored for next time."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            value: T = hit[1]
            return value
        value = make()
        with self._lock:
            if len(self._items) > 256:
                self._items.clear()
            self._items[key] = (now + self.ttl_s, value)
        return value

    def clear(self) -> None:
        """Forget everything (after a change the cached pages show)."""
        with self._lock:
            self._items.clear()


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tirta.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v, d=1: "–" if v is None else f"{v:,.{d}f}"
    env.filters["sig"] = lambda v, d=4: "–" if v is None else f"{v:,.{d}g}"  # any unit's flow
    return env


@dataclass
class WebState:
    """Session lifetime (s), poll interval (s), the login limiter, caches and the template environment."""

    session_ttl_s: float
    poll_s: float
    logins: RateLimiter = field(default_factory=lambda: RateLimiter(10))
    cache: TtlCache = field(default_factory=lambda: TtlCache(60.0))
    snapshots: SnapshotCache = field(default_factory=SnapshotCache)
    templates: Environment = field(default_factory=_environment)


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.tirta_web
    return state


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template, with the request, the poll interval and the context."""
    web = web_state(request)
    html = web.templates.get_template(template).render(request=request, poll_s=web.poll_s, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def shown_units(request: Request, user: str) -> dict[str, str]:
    """The display unit per quantity of ``user``: their choice, else the deployment's default."""
    state = get_state(request)
    return user_units(state.store, user, state.settings.display_units).shown
