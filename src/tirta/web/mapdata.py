"""The network map as a Plotly figure: pipes as one WebGL line trace, coloured classes, sensors, events.

Pipes are drawn with ``scattergl`` traces of None-separated segments (one trace for all pipes, one per
colour class), so a 3,300-node network draws in a fraction of a second. Colours come from a snapshot
solve of the hydraulics engine at the chosen time of week; sensors show their stored reading near it.
When the DMA file declares a CRS, model coordinates are turned into longitude/latitude with pyproj.
With a :class:`Basemap` (the deployment's ``TIRTA_MAP_TILES``), the same traces become ``scattermap``
traces over raster tiles (MapLibre inside Plotly.js, no token, no other server than the tiles').
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tirta.hydraulics import PDA, Engine
from tirta.leaks.events import ACTIVE, Event
from tirta.network import DMA, Network
from tirta.telemetry.store import Store
from tirta.units import parse_unit, shown_value

__all__ = ["QUANTITIES", "Basemap", "SnapshotCache", "map_figure", "project"]

QUANTITIES = {"pressure": "pressure (m)", "flow": "flow (m³/h)", "none": ""}
_CLASSES = 6
_COLOURS = ["#313695", "#4575b4", "#74add1", "#fdae61", "#f46d43", "#a50026"]  # low → high


class SnapshotCache:
    """Snapshot solves by (model file, time of week in hours) and the drawn geometry by model, so
    repeated map loads cost little."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: dict[tuple[str, int], tuple[list[str], np.ndarray, list[str], np.ndarray]] = {}
        self._geo: dict[tuple[int, str, str | None], _Geo] = {}
        self._lock = threading.Lock()

    def geometry(self, net: Network, dmas: Sequence[DMA], crs: str | None = None) -> _Geo:
        """:func:`project` of a loaded model, computed once per model object and CRS."""
        key = (id(net), str(net.path), crs or next((d.crs for d in dmas if d.crs), None))
        with self._lock:
            geo = self._geo.get(key)
        if geo is None:
            geo = project(net, dmas, crs)
            with self._lock:
                self._geo[key] = geo
        return geo

    def solve(self, net: Network, hour_of_week: int) -> tuple[dict[str, float], dict[str, float]]:
        """Node pressures (m) and link flows (m³/s) at ``hour_of_week`` (PDA, tanks at initial level)."""
        key = (str(net.path), hour_of_week)
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                with Engine(net, pda=PDA()) as engine:
                    snap = engine.solve_snapshot(hour_of_week * 3600)
                    hit = (list(engine.node_ids), snap.pressure_m, list(engine.link_ids), snap.flow_m3s)
                if len(self._items) >= self.size:
                    self._items.clear()
                self._items[key] = hit
        nodes, p, links, q = hit
        return dict(zip(nodes, p.tolist(), strict=True)), dict(zip(links, q.tolist(), strict=True))


@dataclass(frozen=True)
class Basemap:
    """Raster tiles under the map: a URL template with {z}, {x}, {y}, the CRS of the model's
    coordinates (None: the DMA file's) and the provider's attribution."""

    url: str
    crs: str | None = None
    attribution: str = ""


@dataclass(frozen=True)
class _Geo:
    """Node coordinates for display, and each link's end points in the same coordinates."""

    xy: pd.DataFrame  # x, y per node id, display coordinates
    geographic: bool  # display coordinates are longitude/latitude
    crs: str | None
    links: pd.Index  # link ids, in the order of ``ends``
    ends: np.ndarray  # (links, 4): x and y of the start node, x and y of the end node


def project(net: Network, dmas: Sequence[DMA], crs: str | None = None) -> _Geo:
    """Display coordinates: model coordinates, or longitude/latitude when ``crs`` (else a DMA's
    declared CRS) says where they are."""
    xy = net.nodes[["x", "y"]].astype(float)
    crs = crs or next((d.crs for d in dmas if d.crs), None)
    geographic = False
    if crs is not None:
        from pyproj import CRS, Transformer

        source = CRS.from_user_input(crs)
        geographic = True
        if not source.is_geographic:
            to_lonlat = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
            lon, lat = to_lonlat.transform(xy["x"].to_numpy(), xy["y"].to_numpy())
            xy = pd.DataFrame({"x": lon, "y": lat}, index=xy.index)
    pos = xy.index.get_indexer
    a = xy.to_numpy()[pos(net.links["start_node"])]
    b = xy.to_numpy()[pos(net.links["end_node"])]
    return _Geo(xy, geographic, crs, net.links.index, np.hstack([a, b]))


def _ends(geo: _Geo, links: Sequence[str] | pd.Index) -> np.ndarray:
    out: np.ndarray = geo.ends[geo.links.get_indexer(pd.Index(links))]
    return out


def _segments(geo: _Geo, links: Sequence[str] | pd.Index) -> tuple[list[Any], list[Any]]:
    """x and y lists of the links' straight segments, separated by None (Plotly's line break)."""
    e = _ends(geo, links)
    gap = np.full(len(e), np.nan)
    digits = 6 if geo.geographic else 2
    xs = np.column_stack([e[:, 0], e[:, 2], gap]).round(digits).ravel().tolist()
    ys = np.column_stack([e[:, 1], e[:, 3], gap]).round(digits).ravel().tolist()
    return [None if v != v else v for v in xs], [None if v != v else v for v in ys]


def _midpoints(geo: _Geo, links: Sequence[str] | pd.Index) -> np.ndarray:
    e = _ends(geo, links)
    mid: np.ndarray = (e[:, :2] + e[:, 2:]) / 2
    return mid


def _link_values(
    net: Network, quantity: str, pressure: dict[str, float], flow: dict[str, float]
) -> pd.Series:
    links = net.links
    if quantity == "flow":
        return pd.Series([abs(flow.get(k, np.nan)) * 3600.0 for k in links.index], index=links.index)
    p_start = links["start_node"].map(pressure).astype(float)
    p_end = links["end_node"].map(pressure).astype(float)
    return (p_start + p_end) / 2


def _colour_traces(net: Network, geo: _Geo, values: pd.Series, label: str) -> list[dict[str, Any]]:
    """One scattergl line trace per colour class, and invisible midpoint markers for hover and a scale."""
    finite = values[np.isfinite(values)]
    if finite.empty:
        return []
    lo, hi = np.percentile(finite, [2, 98])
    hi = hi if hi > lo else lo + 1.0
    cls = np.clip(((finite - lo) / (hi - lo) * _CLASSES).astype(int), 0, _CLASSES - 1)
    traces = []
    for k in range(_CLASSES):
        ids = finite.index[cls == k]
        if len(ids) == 0:
            continue
        xs, ys = _segments(geo, ids)
        traces.append(
            {
                "type": "scattergl",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "hoverinfo": "skip",
                "line": {"color": _COLOURS[k], "width": 2},
                "showlegend": False,
                "name": f"class {k}",
            }
        )
    mid = _midpoints(geo, finite.index)
    traces.append(
        {
            "type": "scattergl",
            "mode": "markers",
            "name": label,
            "showlegend": False,
            "x": mid[:, 0].round(6).tolist(),
            "y": mid[:, 1].round(6).tolist(),
            "text": [f"{i}: {v:.4g}" for i, v in zip(finite.index, finite, strict=True)],
            "hoverinfo": "text",
            "marker": {
                "size": 4,
                "opacity": 0.01,
                "color": [float(f"{v:.4g}") for v in finite],  # any unit: 4 digits
                "cmin": float(lo),
                "cmax": float(hi),
                "colorscale": [[i / 5, c] for i, c in enumerate(_COLOURS)],
                "colorbar": {"title": {"text": label}, "thickness": 12},
            },
        }
    )
    return traces


def _sensor_trace(
    net: Network, geo: _Geo, store: Store, at: pd.Timestamp, shown: dict[str, str]
) -> dict[str, Any]:
    """Sensors as markers at their node or link midpoint, with the latest reading before ``at`` in the
    display unit ``shown`` gives its quantity (else SI)."""
    ids, xs, ys, text = [], [], [], []
    sensors = [s for s in store.sensors().sensors.values() if s.kind != "demand"]
    frame = store.read([s.id for s in sensors], at - pd.Timedelta(hours=1), at + pd.Timedelta(seconds=1))
    last = frame.ffill().iloc[-1] if not frame.empty else pd.Series(dtype=float)
    for s in sensors:
        if s.node is not None and s.node in geo.xy.index:
            x, y = geo.xy.loc[s.node]
        elif s.link is not None and s.link in net.links.index:
            x, y = _midpoints(geo, [s.link])[0]
        else:
            continue
        value = last.get(s.id, np.nan)
        display, unit = shown_value(float(value), s.quantity, shown)
        reading = "no reading" if not np.isfinite(value) else f"{display:.4g} {unit or 'SI'}"
        ids.append(s.id)
        xs.append(round(float(x), 6))
        ys.append(round(float(y), 6))
        text.append(f"{s.id} ({s.kind}): {reading}")
    return {
        "type": "scattergl",
        "mode": "markers",
        "name": "sensors",
        "x": xs,
        "y": ys,
        "text": text,
        "customdata": ids,
        "hoverinfo": "text",
        "marker": {
            "size": 9,
            "symbol": "diamond",
            "color": "#111",
            "line": {"color": "#fff", "width": 1},
        },
    }


def _circle(cx: float, cy: float, radius_m: float, geo: _Geo) -> tuple[list[float], list[float]]:
    """A circle of ``radius_m`` around a display point (degrees scaled by latitude when geographic)."""
    t = np.linspace(0, 2 * np.pi, 73)
    if geo.geographic:
        dy = radius_m / 111_320.0
        dx = dy / max(math.cos(math.radians(cy)), 1e-6)
    else:
        dx = dy = radius_m
    return (cx + dx * np.cos(t)).round(6).tolist(), (cy + dy * np.sin(t)).round(6).tolist()


def _event_traces(net: Network, geo: _Geo, events: Sequence[Event]) -> list[dict[str, Any]]:
    """Candidate pipes of active events (thick red) and each event's uncertainty circle."""
    out: list[dict[str, Any]] = []
    known = set(net.links.index)
    for e in events:
        if e.status not in ACTIVE:
            continue
        pipes = [str(c["pipe"]) for c in e.candidates if str(c["pipe"]) in known]
        if not pipes:
            continue
        xs, ys = _segments(geo, pipes)
        out.append(
            {
                "type": "scattergl",
                "mode": "lines",
                "name": f"event {e.id} candidates",
                "x": xs,
                "y": ys,
                "line": {"color": "#e4007c", "width": 6},
                "hoverinfo": "name",
                "customdata": [e.id] * len(xs),
            }
        )
        if e.radius_m:
            cx, cy = _midpoints(geo, pipes[:1])[0]
            cxs, cys = _circle(float(cx), float(cy), float(e.radius_m), geo)
            out.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"event {e.id}: {e.radius_m:.0f} m",
                    "x": cxs,
                    "y": cys,
                    "line": {"color": "#e4007c", "dash": "dot", "width": 2},
                    "hoverinfo": "name",
                }
            )
    return out


def _dma_traces(geo: _Geo, dmas: Sequence[DMA]) -> list[dict[str, Any]]:
    """DMA outlines: their polygon when given, else the convex hull of their nodes."""
    from scipy.spatial import ConvexHull

    out = []
    for d in dmas:
        if d.polygon and not geo.geographic:
            ring = np.asarray(d.polygon, dtype=float)
        else:
            pts = geo.xy.loc[[n for n in d.nodes if n in geo.xy.index]].to_numpy()
            if len(pts) < 3:
                continue
            ring = pts[ConvexHull(pts).vertices]
        ring = np.vstack([ring, ring[:1]])
        out.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"DMA {d.name}",
                "hoverinfo": "name",
                "x": ring[:, 0].round(6).tolist(),
                "y": ring[:, 1].round(6).tolist(),
                "line": {"color": "#888", "dash": "dash", "width": 1},
            }
        )
    return out


def map_figure(
    net: Network,
    dmas: Sequence[DMA],
    store: Store,
    events: Sequence[Event],
    *,
    at: pd.Timestamp,
    quantity: str,
    snapshots: SnapshotCache,
    gl: bool = True,
    notices: Sequence[str] = (),
    basemap: Basemap | None = None,
    shown: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The whole map: Plotly traces and layout, plus what it shows (time, quantity, counts, CRS) and
    ``notices`` about the model shown (the built-in one, sensors of another network); over the
    ``basemap``'s tiles when one is given and the model's CRS is known; values in the display units
    ``shown`` (pressure, flow; default m and m³/h)."""
    shown = shown or {}
    geo = snapshots.geometry(net, dmas, basemap.crs if basemap else None)
    xs, ys = _segments(geo, net.links.index)
    kind = "scattergl" if gl else "scatter"
    traces: list[dict[str, Any]] = [
        {
            "type": kind,
            "mode": "lines",
            "name": "pipes",
            "x": xs,
            "y": ys,
            "hoverinfo": "skip",
            "line": {"color": "#b8c2cc", "width": 1},
            "showlegend": False,
        }
    ]
    traces += _dma_traces(geo, dmas)
    if quantity in ("pressure", "flow"):
        hour = int(at.day_of_week * 24 + at.hour)
        pressure, flow = snapshots.solve(net, hour)
        unit = shown.get(quantity, "m3/h" if quantity == "flow" else "m")
        si_per_value = 1 / 3600.0 if quantity == "flow" else 1.0  # _link_values: m³/h, m
        values = _link_values(net, quantity, pressure, flow) * (
            si_per_value / parse_unit(unit, quantity).factor
        )
        label = f"{quantity} ({unit.replace('m3', 'm³')})"
        traces += _colour_traces(net, geo, values, label)
    traces += _event_traces(net, geo, events)
    sensor_trace = _sensor_trace(net, geo, store, at, shown)
    traces.append(sensor_trace)
    shown_notices = list(notices)
    registered = sum(1 for s in store.sensors().sensors.values() if s.kind != "demand")
    unplaced = registered - len(sensor_trace["customdata"])
    if unplaced:
        shown_notices.append(
            f"{unplaced} of {registered} registered sensors sit on no node or link of this network "
            "model: the store holds another network's data, or the sensors file names other ids"
        )
    if basemap is not None and not geo.geographic:
        shown_notices.append(
            "no basemap: the tiles need the CRS of the model's coordinates "
            "(TIRTA_MAP_CRS, or crs in the DMA file)"
        )
        basemap = None
    if not gl:
        for t in traces:
            t["type"] = "scatter"
    mid_lat = float(geo.xy["y"].mean()) if geo.geographic else 0.0
    layout = {
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "xaxis": {"visible": False},
        "yaxis": {
            "visible": False,
            "scaleanchor": "x",
            "scaleratio": 1 / max(math.cos(math.radians(mid_lat)), 1e-6) if geo.geographic else 1,
        },
        "showlegend": True,
        "legend": {"x": 0, "y": 1, "bgcolor": "rgba(255,255,255,0.7)"},
        "hovermode": "closest",
        "dragmode": "pan",
        "uirevision": "map",
    }
    if basemap is not None:
        traces = [_on_map(t) for t in traces]
        layout = _map_layout(geo, basemap)
    meta = {
        "basemap": None if basemap is None else {"attribution": basemap.attribution},
        "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quantity": quantity,
        "nodes": len(net.nodes),
        "links": len(net.links),
        "crs": geo.crs,
        "geographic": geo.geographic,
        "active_events": sum(1 for e in events if e.status in ACTIVE),
        "colour_source": "snapshot simulation at the hour of the week" if quantity != "none" else None,
        "notices": shown_notices,
    }
    return {"traces": traces, "layout": layout, "meta": meta}


def _on_map(trace: dict[str, Any]) -> dict[str, Any]:
    """A scatter/scattergl trace as a ``scattermap`` trace (x → lon, y → lat); MapLibre lines have no
    dash and its markers other than circles need a sprite, so sensors become circles."""
    out = {k: v for k, v in trace.items() if k not in ("x", "y")}
    out.update(type="scattermap", lon=trace.get("x", []), lat=trace.get("y", []))
    if "line" in out:
        out["line"] = {k: v for k, v in out["line"].items() if k != "dash"}
    marker = out.get("marker")
    if isinstance(marker, dict) and "symbol" in marker:
        out["marker"] = {k: v for k, v in marker.items() if k not in ("symbol", "line")}
        out["marker"]["size"] = 11
    return out


def _map_layout(geo: _Geo, basemap: Basemap) -> dict[str, Any]:
    """A MapLibre map centred on the network, zoomed to fit ~700 px, with one raster-tile source."""
    lon, lat = geo.xy["x"].to_numpy(), geo.xy["y"].to_numpy()
    span = max(
        float(np.ptp(lon)), float(np.ptp(lat)) / max(math.cos(math.radians(float(lat.mean()))), 1e-6)
    )
    zoom = float(np.clip(math.log2(700 * 360 / (512 * max(span, 1e-9))), 0, 19))  # 512 px world at 0
    source: dict[str, Any] = {"type": "raster", "tiles": [basemap.url], "tileSize": 256}
    if basemap.attribution:
        source["attribution"] = basemap.attribution
    style = {
        "version": 8,
        "sources": {"basemap": source},
        "layers": [{"id": "basemap", "type": "raster", "source": "basemap"}],
    }
    return {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "map": {
            "style": style,
            "center": {
                "lon": float((lon.min() + lon.max()) / 2),
                "lat": float((lat.min() + lat.max()) / 2),
            },
            "zoom": round(zoom, 2),
        },
        "showlegend": True,
        "legend": {"x": 0, "y": 1, "bgcolor": "rgba(255,255,255,0.7)"},
        "hovermode": "closest",
        "uirevision": "map",
    }
