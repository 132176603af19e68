"""The planning page: districts coloured by coverage, the ranked list, and an extension what-if.

``GET /planning`` renders the page from the districts file of the settings (``TIRTA_DISTRICTS``; the
illustrative L-Town districts for the built-in model); ``POST /api/v1/planning/extend`` runs
:func:`tirta.planning.extension.extend` and answers its summary with a network figure to draw.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tirta.api.deps import StateDep, Viewer, get_state
from tirta.api.errors import NotFoundError, error_responses
from tirta.coverage import CoverageReport, coverage_report, load_districts
from tirta.errors import TirtaError
from tirta.network.model import Network
from tirta.planning.design import Connection, DemandDesign
from tirta.planning.extension import Extension, extend
from tirta.reports.planning import district_map, pipes_trace, trend_figure
from tirta.web.session import PageUser
from tirta.web.state import render

__all__ = ["api_router", "extension_figure", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter()
_lock = threading.Lock()


def _report(request: Request) -> tuple[CoverageReport, Network, str | None] | None:
    """The coverage report of the settings' districts, computed once per file version (headroom is slow)."""
    state = get_state(request)
    path = state.settings.districts
    if path is None:
        return None
    net, dmas = state.model()
    crs = next((d.crs for d in dmas if d.crs), None)
    key = (str(path), path.stat().st_mtime_ns if path.exists() else 0)
    with _lock:
        cache: dict[Any, Any] = getattr(request.app.state, "tirta_planning", None) or {}
        request.app.state.tirta_planning = cache
        if key not in cache:
            cache.clear()
            cache[key] = (coverage_report(load_districts(path), net=net, network_crs=crs), crs)
        rep, _crs = cache[key]
        return rep, net, crs


@router.get("/planning")
def planning_page(request: Request, user: PageUser) -> Response:
    """Coverage by district on the map, the ranked list and the what-if form."""
    try:
        found = _report(request)
    except TirtaError as exc:  # a broken districts file: say so on the page
        return render(
            request,
            "planning.html",
            user=user,
            page="planning",
            rep=None,
            data_json="null",
            error=str(exc),
        )
    if found is None:
        return render(request, "planning.html", user=user, page="planning", rep=None, data_json="null")
    rep, net, crs = found
    data = {"map": district_map(rep, net, crs), "trend": trend_figure(rep)}
    return render(
        request,
        "planning.html",
        user=user,
        page="planning",
        rep=rep.as_dict(),
        illustrative="l-town-districts" in rep.districts.path.name,
        source=rep.districts.path.name,
        data_json=json.dumps(data).replace("</", "<\\/"),
    )


class ConnectionIn(BaseModel):
    node: str = Field(min_length=1, max_length=128, pattern=r"\S")
    households: int = Field(ge=1, le=10_000_000)


class ExtendIn(BaseModel):
    """An extension what-if: new connections and the design demand."""

    connections: list[ConnectionIn] = Field(min_length=1, max_length=50)
    lpcd: float = Field(150.0, gt=0, le=2000)
    household_size: float = Field(4.5, gt=0, le=50)
    peak_factor: float = Field(1.5, gt=0, le=10)
    min_pressure_m: float = Field(10.0, gt=0, le=200)


def extension_figure(net: Network, ext: Extension, connected: list[str]) -> dict[str, Any]:
    """Plotly figure: pipes, every junction coloured by its lowest pressure of the day, failures marked."""
    xy = net.nodes[["x", "y"]]
    nodes = [n for n in ext.node_min_pressure_m if n in xy.index]
    low = set(ext.nodes_below_min)
    traces: list[dict[str, Any]] = [pipes_trace(net)]
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": [float(xy.at[n, "x"]) for n in nodes],
            "y": [float(xy.at[n, "y"]) for n in nodes],
            "text": [f"{n}: {ext.node_min_pressure_m[n]:.1f} m" for n in nodes],
            "hoverinfo": "text",
            "marker": {
                "size": 5,
                "color": [round(ext.node_min_pressure_m[n], 2) for n in nodes],
                "colorscale": "Viridis",
                "colorbar": {"title": {"text": "min pressure (m)"}},
            },
            "name": "junctions",
        }
    )
    for name, ids, style in (
        (
            "below minimum",
            [n for n in nodes if n in low],
            {"color": "#d62728", "size": 11, "symbol": "x"},
        ),
        (
            "new connections",
            [n for n in connected if n in xy.index],
            {"color": "#ff7f0e", "size": 14, "symbol": "star"},
        ),
    ):
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [float(xy.at[n, "x"]) for n in ids],
                "y": [float(xy.at[n, "y"]) for n in ids],
                "text": ids,
                "marker": style,
                "name": name,
            }
        )
    layout = {
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "xaxis": {"visible": False, "scaleanchor": "y"},
        "yaxis": {"visible": False},
        "height": 520,
        "legend": {"orientation": "h"},
    }
    return {"data": traces, "layout": layout}


@api_router.post("/planning/extend", tags=["planning"], responses=error_responses(400, 404))
def extend_what_if(body: ExtendIn, state: StateDep, _: Viewer) -> Any:
    """Connect households at junctions and run the design day pressure-driven (EPANET 2.3 PDA)."""
    net, _dmas = state.model()
    design = DemandDesign(body.lpcd, body.household_size, body.peak_factor)
    connections = [Connection(c.node.strip(), c.households) for c in body.connections]
    unknown = [c.node for c in connections if c.node not in net.nodes.index]
    if unknown:
        raise NotFoundError(f"no node '{unknown[0]}' in the network", field="node")
    ext = extend(net, connections, design=design, min_pressure_m=body.min_pressure_m)
    out = ext.as_dict()
    out["figure"] = extension_figure(net, ext, [c.node for c in connections])
    return _finite(out)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
