"""``/api/v1/status`` and ``/api/v1/analytics``: what the serve process's runtime is doing and found.

Included by ``create_app`` from :attr:`tirta.server.Runtime.routers`; the runtime is found on
``app.state.tirta_runtime``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tirta.api.deps import Viewer
from tirta.api.errors import NotFoundError, error_responses
from tirta.api.services import jsonable
from tirta.server.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["status"])


def _runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "tirta_runtime", None)
    if runtime is None:
        raise NotFoundError("this server runs no background runtime")
    return runtime


@router.get("/status", responses=error_responses(404))
def status(request: Request, who: Viewer) -> dict[str, Any]:
    """Each scheduled job's last run, duration and error; MQTT, replay and write-lock figures."""
    out: dict[str, Any] = jsonable(_runtime(request).status())
    return out


@router.get("/analytics/balance", responses=error_responses(404))
def latest_balance(request: Request, who: Viewer) -> dict[str, Any]:
    """The last nightly night-flow and water balance of every DMA (404 before the first run)."""
    found = _runtime(request).analytics.balance()
    if found is None:
        raise NotFoundError("the nightly balance has not run yet; see /api/v1/status")
    out: dict[str, Any] = jsonable(found)
    return out
