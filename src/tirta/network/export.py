"""Export the network, its DMAs and leak events to GIS files (GeoJSON, GeoPackage) in SI units.

Geometry comes from wntr's GIS conversion (``wntr.network.to_gis``); tirta renames every attribute
so the unit is in its name (``diameter_m``, ``base_demand_m3s``) and declares the coordinates' CRS.
A GeoPackage holds one layer per element kind; a GeoJSON file (RFC 7946: longitude/latitude) holds
every feature with a ``layer`` property naming its kind.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from tirta.errors import InputError
from tirta.network.dma import DMA
from tirta.network.model import Network

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "FORMATS",
    "ExportSummary",
    "dma_kpi_layer",
    "export_layers",
    "network_layers",
    "write_layers",
]

FORMATS: Final = ("geojson", "gpkg")

# wntr GIS attribute → tirta's name with its SI unit (wntr holds every value in SI)
_RENAME: Final[dict[str, str]] = {
    "base_demand": "base_demand_m3s",
    "elevation": "elevation_m",
    "base_head": "base_head_m",
    "init_level": "init_level_m",
    "min_level": "min_level_m",
    "max_level": "max_level_m",
    "diameter": "diameter_m",
    "min_vol": "min_volume_m3",
    "length": "length_m",
    "power": "power_w",
    "start_node_name": "start_node",
    "end_node_name": "end_node",
}
# the unit of a valve's setting depends on its type (EPANET semantics, converted to SI by wntr)
_VALVE_SETTING_UNIT: Final[dict[str, str]] = {
    "PRV": "m",
    "PSV": "m",
    "PBV": "m",
    "FCV": "m3/s",
    "TCV": "-",
    "GPV": "-",
    "PCV": "%",
}
_LAYERS: Final = ("junctions", "tanks", "reservoirs", "pipes", "pumps", "valves")


@dataclass(frozen=True)
class ExportSummary:
    """What was written: the file, its format, the CRS declared and the features per layer."""

    path: Path
    format: str
    crs: str | None
    layers: dict[str, int]


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Unit-named columns; object columns as text (None kept) so every GIS driver can type them."""
    frame = frame.rename(columns=_RENAME)
    for col in frame.columns:
        if col == "geometry" or frame[col].dtype != object:
            continue
        given = frame[col].dropna()
        if len(given) and given.map(lambda v: isinstance(v, bool)).all():
            frame[col] = frame[col].astype(bool)
        else:
            frame[col] = frame[col].map(lambda v: None if v is None else str(v))
    return frame


def network_layers(net: Network, crs: str | None = None) -> dict[str, gpd.GeoDataFrame]:
    """One GeoDataFrame per element kind (points for nodes, lines for links), in the model's CRS."""
    import wntr

    gis = wntr.network.to_gis(net.wn, crs=crs)
    out: dict[str, gpd.GeoDataFrame] = {}
    headloss = str(net.wn.options.hydraulic.headloss)
    for name in _LAYERS:
        frame = getattr(gis, name)
        if len(frame) == 0:
            continue
        frame = _tidy(frame.reset_index())
        if name == "pipes":
            frame["headloss_formula"] = headloss  # roughness is C (H-W, C-M) or ε in m (D-W)
        if name == "valves" and "valve_type" in frame.columns:
            frame["setting_unit"] = frame["valve_type"].map(_VALVE_SETTING_UNIT)
        out[name] = frame
    return out


def _dma_geometry(net: Network, d: DMA) -> tuple[Any, str] | None:
    """A resolved DMA's polygon and where it comes from; None with fewer than three placed nodes."""
    from shapely.geometry import MultiPoint, Polygon

    if d.polygon:
        return Polygon(d.polygon), "dma file"
    xy = net.nodes.loc[[n for n in d.nodes if n in net.nodes.index], ["x", "y"]]
    if len(xy) < 3:
        return None
    return MultiPoint(xy.to_numpy()).convex_hull, "convex hull of its nodes"


def dma_layer(net: Network, dmas: Sequence[DMA], crs: str | None) -> gpd.GeoDataFrame | None:
    """DMAs as polygons: the DMA file's polygon, else the convex hull of its nodes (said in a column)."""
    import geopandas as gpd

    rows: list[dict[str, Any]] = []
    for d in dmas:
        d = d.resolve(net)
        shape = _dma_geometry(net, d)
        if shape is None:
            continue
        geom, source = shape
        rows.append(
            {
                "name": d.name,
                "nodes": len(d.nodes),
                "inlets": ",".join(d.inlets),
                "outlets": ",".join(d.outlets),
                "connections": d.connections,
                "mains_length_km": d.mains_length_km,
                "average_pressure_m": d.average_pressure_m,
                "geometry_source": source,
                "geometry": geom,
            }
        )
    if not rows:
        return None
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def dma_kpi_layer(
    net: Network, dmas: Sequence[DMA], kpis: pd.DataFrame, crs: str | None
) -> gpd.GeoDataFrame | None:
    """DMA polygons carrying the KPI row of the same name (:func:`tirta.balance.gis.dma_kpi_table`)."""
    import geopandas as gpd

    by_name = kpis.set_index("name")
    rows: list[dict[str, Any]] = []
    for d in dmas:
        d = d.resolve(net)
        shape = _dma_geometry(net, d)
        if shape is None or d.name not in by_name.index:
            continue
        rows.append({"name": d.name, **by_name.loc[d.name].to_dict(), "geometry": shape[0]})
    if not rows:
        return None
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    for col in ("warnings", "error", "band"):  # text columns, even when every value is null
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def event_layer(
    net: Network, events: Sequence[Mapping[str, Any]], crs: str | None
) -> gpd.GeoDataFrame | None:
    """Leak events as points at the middle of their first candidate pipe (no customer data)."""
    import geopandas as gpd
    from shapely.geometry import Point

    rows: list[dict[str, Any]] = []
    for ev in events:
        candidates = [c for c in ev.get("candidates") or [] if c.get("pipe") in net.links.index]
        if not candidates:
            continue
        x, y = net.pipe_midpoint(str(candidates[0]["pipe"]))
        rows.append(
            {
                "event_id": ev.get("id"),
                "status": ev.get("status"),
                "dma": ev.get("dma"),
                "pipe": candidates[0]["pipe"],
                "candidates": ",".join(str(c["pipe"]) for c in candidates),
                "size_lps": ev.get("size_lps"),
                "radius_m": ev.get("radius_m"),
                "start": str(ev.get("start")) if ev.get("start") is not None else None,
                "detected_at": str(ev.get("detected_at")) if ev.get("detected_at") else None,
                "geometry": Point(x, y),
            }
        )
    if not rows:
        return None
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _check_crs(crs: str | None) -> str | None:
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except CRSError:
        raise InputError(f"unknown CRS {crs!r}; expected e.g. EPSG:32748", field="crs") from None
    return crs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], out: Path, fmt: str) -> dict[str, int]:
    """Write the layers: a GeoPackage with one layer each, or one RFC 7946 GeoJSON collection."""
    import geopandas as gpd

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", field="format")
    if not layers:
        raise InputError("nothing to export: the model has no elements", field="format")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()  # a GeoPackage would otherwise gain layers beside the old ones
    if fmt == "gpkg":
        with warnings.catch_warnings():  # no CRS is the user's choice, reported by the caller
            warnings.filterwarnings("ignore", message="'crs' was not provided")
            for name, frame in layers.items():
                frame.to_file(out, layer=name, driver="GPKG", engine="pyogrio")
        return {name: len(frame) for name, frame in layers.items()}
    parts = []
    for name, frame in layers.items():
        part = frame.to_crs("EPSG:4326") if frame.crs is not None else frame
        parts.append(part.assign(layer=name))
    merged = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry")
    for col in merged.columns:  # a field null in one layer and numeric in another stays numeric
        given = merged[col].dropna() if merged[col].dtype == object else None
        if given is not None and len(given) and given.map(_is_number).all():
            merged[col] = pd.to_numeric(merged[col])
    merged = merged.set_crs(parts[0].crs, allow_override=True) if parts[0].crs else merged
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        merged.to_file(out, driver="GeoJSON", engine="pyogrio")
    return {name: len(frame) for name, frame in layers.items()}


def export_layers(
    net: Network,
    out: str | Path,
    fmt: str,
    *,
    crs: str | None = None,
    dmas: Sequence[DMA] = (),
    events: Sequence[Mapping[str, Any]] = (),
    dma_kpis: pd.DataFrame | None = None,
) -> ExportSummary:
    """Write the model's elements (and DMAs, their KPIs and events when given) to ``out`` as ``fmt``.

    ``crs`` is the CRS of the model's coordinates (EPANET files carry none); without it, the first
    DMA's declared CRS is used, else the file has no CRS and keeps the model's own coordinates.
    GeoJSON output with a CRS is reprojected to WGS 84 longitude/latitude (RFC 7946).
    """
    fmt = fmt.lower()
    crs = _check_crs(crs or next((d.crs for d in dmas if d.crs), None))
    layers: dict[str, Any] = dict(network_layers(net, crs))
    if dmas:
        layer = dma_layer(net, dmas, crs)
        if layer is not None:
            layers["dmas"] = layer
    if dma_kpis is not None:
        layer = dma_kpi_layer(net, dmas, dma_kpis, crs)
        if layer is not None:
            layers["dma_kpis"] = layer
    if events:
        layer = event_layer(net, events, crs)
        if layer is not None:
            layers["events"] = layer
    counts = write_layers(layers, Path(out), fmt)
    return ExportSummary(Path(out), fmt, "EPSG:4326" if fmt == "geojson" and crs else crs, counts)
