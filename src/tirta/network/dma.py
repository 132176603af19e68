"""District metered areas (DMAs): which nodes belong to an area and which meters bound it.

Read from TOML (``[[dma]]`` tables with node ids or a polygon) or GeoJSON (polygon features).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.path import Path as PolygonPath

from tirta.errors import InputError
from tirta.network.model import Network

__all__ = ["DMA", "load_dmas", "node_to_dma"]


@dataclass(frozen=True)
class DMA:
    """A district metered area: its nodes, inlet/outlet meters and size figures."""

    name: str
    nodes: tuple[str, ...] = ()
    inlets: tuple[str, ...] = ()  # link ids whose flow enters the area (a meter sits on them)
    outlets: tuple[str, ...] = ()  # link ids whose flow leaves the area
    connections: int | None = None  # service connections, for leakage KPIs
    mains_length_km: float | None = None
    average_pressure_m: float | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    crs: str | None = None
    description: str = ""

    def resolve(self, network: Network) -> DMA:
        """Fill nodes from the polygon and mains length from the model, when missing."""
        dma = self
        if not dma.nodes and dma.polygon:
            xy = network.nodes[["x", "y"]].to_numpy()
            inside = PolygonPath(np.asarray(dma.polygon)).contains_points(xy)
            dma = replace(dma, nodes=tuple(network.nodes.index[inside]))
        if dma.mains_length_km is None:
            members = set(dma.nodes)
            pipes = network.links[network.links["type"] == "Pipe"]
            both = pipes["start_node"].isin(members) & pipes["end_node"].isin(members)
            dma = replace(dma, mains_length_km=float(pipes.loc[both, "length_m"].sum()) / 1000.0)
        return dma


def node_to_dma(dmas: Sequence[DMA]) -> dict[str, str]:
    """Map each node id to the name of the DMA it belongs to."""
    return {node: d.name for d in dmas for node in d.nodes}


def _strs(value: Any, file: Path, name: str, fld: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(f"DMA '{name}': expected a list of ids", file=file, field=fld)
    return tuple(str(v) for v in value)


def _opt_number(value: Any, file: Path, name: str, fld: str, *, integer: bool = False) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"DMA '{name}': expected a number, got {value!r}", file=file, field=fld)
    if value < 0:
        raise InputError(f"DMA '{name}': must not be negative, got {value}", file=file, field=fld)
    return int(value) if integer else float(value)


def _make(rec: Mapping[str, Any], file: Path, polygon: Any = None, crs: str | None = None) -> DMA:
    name = str(rec.get("name") or "").strip()
    if not name:
        raise InputError("DMA without a name", file=file, field="name")
    poly = polygon if polygon is not None else rec.get("polygon")
    ring: tuple[tuple[float, float], ...] | None = None
    if poly is not None:
        try:
            ring = tuple((float(p[0]), float(p[1])) for p in poly)
        except (TypeError, ValueError, IndexError):
            raise InputError(
                f"DMA '{name}': polygon must be a list of [x, y] pairs", file=file, field="polygon"
            ) from None
        if len(ring) < 3:
            raise InputError(
                f"DMA '{name}': polygon needs at least 3 points", file=file, field="polygon"
            )
    nodes = _strs(rec.get("nodes"), file, name, "nodes")
    if not nodes and ring is None:
        raise InputError(f"DMA '{name}': give 'nodes' or a 'polygon'", file=file, field="nodes")
    return DMA(
        name=name,
        nodes=nodes,
        inlets=_strs(rec.get("inlets"), file, name, "inlets"),
        outlets=_strs(rec.get("outlets"), file, name, "outlets"),
        connections=_opt_number(rec.get("connections"), file, name, "connections", integer=True),
        mains_length_km=_opt_number(rec.get("mains_length_km"), file, name, "mains_length_km"),
        average_pressure_m=_opt_number(rec.get("average_pressure_m"), file, name, "average_pressure_m"),
        polygon=ring,
        crs=crs or rec.get("crs"),
        description=str(rec.get("description", "")),
    )


def load_dmas(path: str | Path, network: Network | None = None) -> list[DMA]:
    """Load DMAs from TOML or GeoJSON; with ``network``, check ids and resolve polygons."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read DMA file: {exc.strerror}", file=p) from exc
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"invalid TOML: {exc}", file=p) from None
        records = data.get("dma")
        if not isinstance(records, list):
            raise InputError("expected [[dma]] tables", file=p, field="dma")
        dmas = [_make(r, p) for r in records]
    elif p.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", file=p, line=exc.lineno) from None
        crs = (data.get("crs") or {}).get("properties", {}).get("name")
        dmas = []
        for feat in data.get("features", []):
            geom = feat.get("geometry") or {}
            if geom.get("type") != "Polygon":
                raise InputError("each DMA feature must be a Polygon", file=p, field="geometry")
            dmas.append(_make(feat.get("properties") or {}, p, geom["coordinates"][0], crs))
    else:
        raise InputError(f"unknown DMA file type '{p.suffix}'; expected .toml or .geojson", file=p)
    names = [d.name for d in dmas]
    if len(set(names)) != len(names):
        raise InputError("DMA names must be unique", file=p, field="name")
    if network is not None:
        dmas = [_check(d.resolve(network), network, p) for d in dmas]
    return dmas


def _check(dma: DMA, network: Network, file: Path) -> DMA:
    known_nodes, known_links = set(network.nodes.index), set(network.links.index)
    for node in dma.nodes:
        if node not in known_nodes:
            raise InputError(f"DMA '{dma.name}': unknown node '{node}'", file=file, field="nodes")
    for fld, ids in (("inlets", dma.inlets), ("outlets", dma.outlets)):
        for link in ids:
            if link not in known_links:
                raise InputError(f"DMA '{dma.name}': unknown link '{link}'", file=file, field=fld)
    return dma
