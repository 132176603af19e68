"""Which districts to connect first: unserved population, distance from the network, hydraulic headroom.

Priority = unserved population / (1 + distance to the network in km) × min(1, headroom ratio), where
the headroom ratio is the capacity of the district's serving junction at the residual pressure
(``tirta.planning.capacity``, peak hour) over the peak demand of its unserved population. It reads as
"people reached per kilometre of new main, discounted by the share of their demand the network carries".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tirta.coverage.districts import MODEL_CRS, Districts
from tirta.errors import InputError
from tirta.hydraulics.engine import Engine
from tirta.network.model import Network
from tirta.planning.capacity import capacity_on, day_state

__all__ = ["Siting", "headroom_lps", "locate", "outer_rings", "rank", "to_network_xy"]


@dataclass(frozen=True)
class Siting:
    """Where a district meets the network: serving junction and distance (m, 0 when it holds nodes)."""

    node: str | None
    distance_m: float


def _inside(points: np.ndarray, ring: Sequence[Sequence[float]]) -> np.ndarray:
    """Even-odd ray casting: which points (n, 2) fall inside a polygon ring."""
    poly = np.asarray([p[:2] for p in ring], dtype=float)
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < xcross)
    return inside


def outer_rings(geom: dict[str, Any]) -> list[Any]:
    if geom.get("type") == "Polygon":
        return [geom["coordinates"][0]]
    if geom.get("type") == "MultiPolygon":
        return [poly[0] for poly in geom["coordinates"]]
    return []


def to_network_xy(districts: Districts, network_crs: str | None) -> Any:
    """A function mapping (x, y) arrays from the districts' CRS to the network's coordinates."""
    src = districts.crs
    if src in (None, MODEL_CRS) or src == network_crs:
        return lambda x, y: (np.asarray(x, float), np.asarray(y, float))
    if network_crs is None:
        raise InputError(
            f"districts are in {src} but the network declares no CRS (give its DMA file a crs)",
            file=districts.path,
            field="crs",
        )
    from pyproj import Transformer

    tr = Transformer.from_crs(src, network_crs, always_xy=True)
    return lambda x, y: tuple(np.asarray(v, float) for v in tr.transform(x, y))


def locate(districts: Districts, net: Network, network_crs: str | None = None) -> dict[str, Siting]:
    """Serving junction and distance to the network for every district that has a point or shape."""
    junctions = net.nodes[net.nodes["type"] == "Junction"]
    pts = junctions[["x", "y"]].to_numpy(dtype=float)
    ids = junctions.index.to_numpy()
    to_net = to_network_xy(districts, network_crs)
    out: dict[str, Siting] = {}
    latest = districts.latest
    for name, row in latest.iterrows():
        given = row["node"]
        if given is not None and given not in net.nodes.index:
            raise InputError(
                f"district '{name}': unknown node '{given}'",
                file=districts.path,
                line=districts.line.get((str(name), int(row["year"]))),
                field="node",
            )
        if math.isnan(row["x"]) or math.isnan(row["y"]):
            out[str(name)] = Siting(given, math.nan)
            continue
        cx, cy = to_net([row["x"]], [row["y"]])
        d = np.hypot(pts[:, 0] - cx[0], pts[:, 1] - cy[0])
        nearest = int(np.argmin(d))
        distance = float(d[nearest])
        geom = districts.geometry.get(str(name))
        if geom is not None:
            for ring in outer_rings(geom):
                rx, ry = to_net([p[0] for p in ring], [p[1] for p in ring])
                inside = _inside(pts, list(zip(rx, ry, strict=True)))
                if inside.any():
                    distance = 0.0
                    if given is None:  # the junction inside the district nearest its centre
                        k = np.flatnonzero(inside)[np.argmin(d[inside])]
                        nearest = int(k)
                    break
        out[str(name)] = Siting(given or str(ids[nearest]), distance)
    return out


def headroom_lps(net: Network, nodes: Sequence[str], residual_m: float = 10.0) -> dict[str, float]:
    """Capacity (L/s) of each junction at the peak hour, all on one open project and one day run."""
    out: dict[str, float] = {}
    with Engine(net, warm_start=True) as engine:
        engine.set_demand_model(None)
        state = day_state(engine)
        for node in dict.fromkeys(nodes):
            out[node] = capacity_on(engine, node, residual_m=residual_m, state=state).extra_demand_lps
    return out


def rank(
    projection: pd.DataFrame,
    siting: dict[str, Siting] | None = None,
    headroom: dict[str, float] | None = None,
    *,
    lpcd: float = 150.0,
    peak_factor: float = 1.5,
) -> pd.DataFrame:
    """Districts with unserved people, best first, with the three criteria and the priority score."""
    siting, headroom = siting or {}, headroom or {}
    rows = []
    for name, row in projection.iterrows():
        unserved = float(row["unserved_population"])
        if unserved <= 0:
            continue
        site = siting.get(str(name), Siting(row.get("node"), math.nan))
        need_lps = unserved * lpcd * peak_factor / 86_400.0
        cap = headroom.get(site.node) if site.node else None
        ratio = cap / need_lps if cap is not None and need_lps > 0 else math.nan
        dist_km = site.distance_m / 1000.0
        score = unserved / (1.0 + (0.0 if math.isnan(dist_km) else dist_km))
        score *= 1.0 if math.isnan(ratio) else min(1.0, ratio)
        rows.append(
            {
                "district": str(name),
                "unserved_population": unserved,
                "unserved_households": round(unserved / float(row["household_size"])),
                "coverage_pct": float(row["coverage_pct"]),
                "node": site.node,
                "distance_m": site.distance_m,
                "unserved_demand_lps": need_lps,
                "headroom_lps": math.nan if cap is None else cap,
                "headroom_ratio": ratio,
                "priority": score,
            }
        )
    cols = [
        "district",
        "unserved_population",
        "unserved_households",
        "coverage_pct",
        "node",
        "distance_m",
        "unserved_demand_lps",
        "headroom_lps",
        "headroom_ratio",
        "priority",
    ]
    frame = pd.DataFrame(rows, columns=cols).sort_values("priority", ascending=False, kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)
