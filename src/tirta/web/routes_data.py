"""JSON the dashboard polls, under ``/api/v1``: the map figure, overview, sensors, public NRW trend.

They take an API key or the dashboard's session cookie like every other API route.
"""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request

from tirta.api.deps import StateDep, Viewer
from tirta.api.errors import error_responses
from tirta.api.params import api_time, time_query
from tirta.leaks.events import list_events
from tirta.web import mapdata, sensordata
from tirta.web.overview import data_span
from tirta.web.overview import public_trend as public_months
from tirta.web.routes_pages import overview_data
from tirta.web.state import shown_units, web_state
from tirta.web.unitview import overview_in_units

router = APIRouter()


def _at(text: str | None, state: Any) -> pd.Timestamp:
    """The map time: given, else the latest reading, else now (UTC)."""
    if text:
        return api_time(text, "at")
    span = data_span(state.store)
    return span[1] if span else pd.Timestamp.now(tz="UTC").floor("h")


@router.get("/network/map", tags=["network"], responses=error_responses(400))
def network_map(
    request: Request,
    state: StateDep,
    who: Viewer,
    quantity: Annotated[str, Query(pattern="^(pressure|flow|none)$")] = "pressure",
    at: Annotated[str | None, time_query("the time shown; default the latest reading")] = None,
    gl: Annotated[bool, Query(description="WebGL (scattergl) traces; false draws SVG")] = True,
) -> Any:
    """The network map as a Plotly figure: pipes, colour classes from a snapshot solve at the hour of
    week of ``at``, DMA outlines, sensors with their reading, active events' candidate pipes and radius."""
    net, dmas = state.model()
    cfg = state.settings
    tiles = mapdata.Basemap(cfg.map_tiles, cfg.map_crs, cfg.map_attribution) if cfg.map_tiles else None
    return mapdata.map_figure(
        net,
        dmas,
        state.store,
        list_events(state.store),
        at=_at(at, state),
        quantity=quantity,
        snapshots=web_state(request).snapshots,
        gl=gl,
        notices=[n for n in (state.settings.network_notice,) if n],
        basemap=tiles,
        shown=shown_units(request, who.user),
    )


@router.get("/dashboard/overview", tags=["dashboard"])
def overview(request: Request, who: Viewer) -> Any:
    """KPIs (NRW %, real losses, open leaks, water lost this month), monthly NRW and open events;
    ``display`` holds the volumes and leak sizes in the caller's display units."""
    return overview_in_units(overview_data(request), shown_units(request, who.user))


@router.get("/dashboard/sensors", tags=["dashboard"])
def sensors(request: Request, state: StateDep, who: Viewer) -> Any:
    """Sensors with latest value (the caller's display units), flag and quarantine counts."""
    return sensordata.sensor_table(state.store, shown_units(request, who.user))


@router.get("/dashboard/sensors/{sensor}", tags=["dashboard"], responses=error_responses(404))
def sensor(
    request: Request,
    state: StateDep,
    who: Viewer,
    sensor: Annotated[str, Path(max_length=128)],
    days: Annotated[float, Query(gt=0, le=366)] = 2.0,
) -> Any:
    """One sensor's recent values (the caller's display units) with its quality flags and quarantine
    counts."""
    return sensordata.sensor_series(state.store, sensor, days, shown_units(request, who.user))


@router.get("/public/nrw-trend", tags=["public"])
def public_trend(request: Request) -> Any:
    """System NRW % per month from the DMA balances; aggregate figures only, no key needed."""
    return public_months(overview_data(request)["trend"])
