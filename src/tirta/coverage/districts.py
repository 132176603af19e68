"""Districts (service areas) from CSV or GeoJSON: population, households, connections, other sources.

One row per district and year. Required: ``district, population, household_size, piped_connections``;
optional: ``year``, ``persons_per_connection`` (default: the household size), ``households``,
``public_tap_users``, the JMP rungs of people without a piped connection (``pop_basic``,
``pop_limited``, ``pop_unimproved``, ``pop_surface_water``), ``node`` (the junction that would serve
it) and ``x``, ``y`` (a point; in a CSV, in the network model's coordinates). GeoJSON keeps each feature's geometry and needs a CRS
(``crs.properties.name``: an EPSG code or WKT pyproj reads, or ``tirta:model`` for the coordinates
of the network model itself).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tirta.errors import InputError

__all__ = ["MODEL_CRS", "NUMERIC", "OPTIONAL", "REQUIRED", "Districts", "load_districts"]

MODEL_CRS = "tirta:model"
REQUIRED = ("district", "population", "household_size", "piped_connections")
NUMERIC = (
    "population",
    "household_size",
    "piped_connections",
    "persons_per_connection",
    "households",
    "public_tap_users",
    "pop_basic",
    "pop_limited",
    "pop_unimproved",
    "pop_surface_water",
)
OPTIONAL = ("year", "node", "x", "y", *NUMERIC[3:])


@dataclass
class Districts:
    """District rows (one per district and year, SI and head counts) with geometry where given.

    ``geometry`` maps a district to its GeoJSON geometry in the file's CRS; ``crs`` is that CRS
    (None for a CSV without one); ``x``/``y`` columns hold a representative point (the centroid of the
    geometry where there is one).
    """

    table: pd.DataFrame
    path: Path
    crs: str | None = None
    geometry: dict[str, dict[str, Any]] = field(default_factory=dict)
    line: dict[tuple[str, int], int] = field(default_factory=dict)  # (district, year) → line in file

    @property
    def latest(self) -> pd.DataFrame:
        """The latest year of every district, indexed by district."""
        rows = self.table.sort_values("year").groupby("district", sort=False).tail(1)
        return rows.set_index("district").loc[self.table["district"].unique()]


def _num(value: Any, name: str, where: dict[str, Any]) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {value!r}", field=name, **where) from None
    if not math.isfinite(out):
        raise InputError(f"expected a finite number, got {value!r}", field=name, **where)
    return out


def _record(raw: dict[str, Any], where: dict[str, Any], default_year: int) -> dict[str, Any]:
    name = str(raw.get("district") or "").strip()
    if not name:
        raise InputError("every row needs a district name", field="district", **where)
    rec: dict[str, Any] = {"district": name}
    for col in NUMERIC:
        rec[col] = _num(raw.get(col), col, where)
    label = f"district '{name}'"
    if math.isnan(rec["population"]) or rec["population"] <= 0:
        raise InputError(f"{label} has no population (must be > 0)", field="population", **where)
    if math.isnan(rec["household_size"]) or rec["household_size"] <= 0:
        raise InputError(f"{label}: household size must be > 0", field="household_size", **where)
    if math.isnan(rec["piped_connections"]):
        raise InputError(f"{label}: piped connections missing", field="piped_connections", **where)
    for col in NUMERIC:
        if rec[col] < 0:
            raise InputError(f"{label}: must not be negative, got {rec[col]:g}", field=col, **where)
    if math.isnan(rec["persons_per_connection"]):
        rec["persons_per_connection"] = rec["household_size"]
    elif rec["persons_per_connection"] <= 0:
        raise InputError(f"{label}: must be > 0", field="persons_per_connection", **where)
    for col in ("public_tap_users", "pop_basic", "pop_limited", "pop_unimproved", "pop_surface_water"):
        if math.isnan(rec[col]):
            rec[col] = 0.0
    year = _num(raw.get("year"), "year", where)
    if not math.isnan(year) and (year != int(year) or not 1800 <= year <= 2300):
        raise InputError(
            f"{label}: expected a calendar year, got {raw.get('year')!r}", field="year", **where
        )
    rec["year"] = default_year if math.isnan(year) else int(year)
    node = raw.get("node")
    rec["node"] = str(node).strip() if node not in (None, "") else None
    rec["x"] = _num(raw.get("x"), "x", where)
    rec["y"] = _num(raw.get("y"), "y", where)
    return rec


def _centroid(geom: dict[str, Any], where: dict[str, Any]) -> tuple[float, float]:
    """Area-weighted centroid of a Polygon/MultiPolygon's outer rings (shoelace), in its own units."""
    kind = geom.get("type")
    rings = (
        [geom["coordinates"][0]]
        if kind == "Polygon"
        else [poly[0] for poly in geom["coordinates"]]
        if kind == "MultiPolygon"
        else None
    )
    if not rings:
        raise InputError(f"expected a Polygon or MultiPolygon, got {kind!r}", field="geometry", **where)
    a_sum = cx = cy = 0.0
    for ring in rings:
        for (x0, y0, *_), (x1, y1, *_) in itertools.pairwise(ring):
            cross = x0 * y1 - x1 * y0
            a_sum += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
    if a_sum == 0:
        raise InputError("polygon has no area", field="geometry", **where)
    return cx / (3.0 * a_sum), cy / (3.0 * a_sum)


def _check_crs(crs: str, path: Path) -> str:
    if crs == MODEL_CRS:
        return crs
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except CRSError:
        raise InputError(f"unknown CRS {crs!r}", file=path, field="crs") from None
    return crs


def load_districts(path: str | Path, *, default_year: int = 2025) -> Districts:
    """Read districts from ``.csv`` or ``.geojson``/``.json``; bad rows name file, line and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read districts file: {exc.strerror}", file=p) from None
    records: list[dict[str, Any]] = []
    lines: dict[tuple[str, int], int] = {}
    geometry: dict[str, dict[str, Any]] = {}
    crs: str | None = None
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        for col in REQUIRED:
            if col not in header:
                raise InputError(f"missing column '{col}'", file=p, line=1, field=col)
        for raw in reader:
            line = reader.line_num
            rec = _record(raw, {"file": p, "line": line}, default_year)
            records.append(rec)
            lines[(rec["district"], rec["year"])] = line
    elif p.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", file=p, line=exc.lineno) from None
        name = ((data.get("crs") or {}).get("properties") or {}).get("name")
        if not name:
            raise InputError(
                "a districts GeoJSON needs a CRS (crs.properties.name)", file=p, field="crs"
            )
        crs = _check_crs(str(name), p)
        for k, feat in enumerate(data.get("features") or []):
            feature_line = _feature_line(text, k)
            where: dict[str, Any] = {"file": p, "line": feature_line}
            rec = _record(feat.get("properties") or {}, where, default_year)
            geom = feat.get("geometry")
            if geom:
                if math.isnan(rec["x"]) or math.isnan(rec["y"]):
                    rec["x"], rec["y"] = _centroid(geom, where)
                geometry[rec["district"]] = geom
            records.append(rec)
            if feature_line is not None:
                lines[(rec["district"], rec["year"])] = feature_line
    else:
        raise InputError(f"unknown districts file type '{p.suffix}'; expected .csv or .geojson", file=p)
    if not records:
        raise InputError("no districts in the file", file=p, field="district")
    table = pd.DataFrame.from_records(records)
    dup = table.duplicated(["district", "year"], keep="first")
    if dup.any():
        first = table[dup].iloc[0]
        raise InputError(
            f"district '{first['district']}' appears twice for {first['year']}",
            file=p,
            line=lines.get((first["district"], int(first["year"]))),
            field="district",
        )
    return Districts(table, p, crs, geometry, lines)


def _feature_line(text: str, index: int) -> int | None:
    """Line where the ``index``-th feature's ``"properties"`` appears (best effort, for messages)."""
    pos = -1
    for _ in range(index + 1):
        pos = text.find('"properties"', pos + 1)
        if pos < 0:
            return None
    return text.count("\n", 0, pos) + 1
