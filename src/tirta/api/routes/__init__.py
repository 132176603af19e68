"""One router per domain, all under ``/api/v1``."""

from __future__ import annotations

from tirta.api.routes import (
    balance,
    events,
    network,
    opendata,
    public,
    quarantine,
    telemetry,
    users,
    waste,
)
from tirta.api.routes import plants as plant_routes
from tirta.api.routes import prefs as prefs_routes

__all__ = ["ROUTERS"]

ROUTERS = (
    network.router,
    telemetry.router,
    quarantine.router,
    events.router,
    balance.router,
    public.router,
    opendata.router,
    users.router,
    waste.router,
    plant_routes.router,
    prefs_routes.router,
)
