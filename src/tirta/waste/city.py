"""A city's waste configuration (population, sites, tonnage file, landfills) and the figures every view
shows from it: tonnage KPIs, each landfill's modelled gas and power, and its engines' actual output.

The file (``waste.toml``) names ``population``, ``tonnage`` (a CSV path), ``landfills`` (INPUT.toml paths)
and ``[[site]]`` tables; paths are relative to the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tirta.errors import InputError
from tirta.telemetry.store import Store
from tirta.waste.kpis import tonnage_kpis
from tirta.waste.landfill import Landfill, landfill_years, load_landfill
from tirta.waste.operations import operations_by_year
from tirta.waste.tonnage import Site, Tonnage, load_sites, load_tonnage

__all__ = ["WasteCity", "city_report", "load_city", "public_waste"]


@dataclass(frozen=True)
class WasteCity:
    """The waste department's data: who is served, where waste is weighed, what it is, the landfills."""

    name: str
    population: float | None
    sites: dict[str, Site]
    tonnage: Tonnage | None
    landfills: tuple[Landfill, ...]
    source: str


def load_city(path: str | Path) -> WasteCity:
    """Read ``waste.toml`` and everything it names (tonnage strict: a faulty row is an error here)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read waste file: {exc.strerror}", file=p) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=p) from None
    pop = data.get("population")
    if pop is not None and (isinstance(pop, bool) or not isinstance(pop, int | float) or pop <= 0):
        raise InputError(f"expected a positive number, got {pop!r}", file=p, field="population")
    sites = load_sites(data.get("site", []), str(p))
    tonnage = data.get("tonnage")
    records = load_tonnage(p.parent / str(tonnage), sites or None) if tonnage else None
    files = data.get("landfills", [])
    if not isinstance(files, list):
        raise InputError("expected a list of landfill files", file=p, field="landfills")
    return WasteCity(
        name=str(data.get("name", p.stem)),
        population=None if pop is None else float(pop),
        sites=sites,
        tonnage=records,
        landfills=tuple(load_landfill(p.parent / str(f)) for f in files),
        source=str(p),
    )


def city_report(city: WasteCity, store: Store | None = None) -> dict[str, Any]:
    """Tonnage KPIs (city-wide and per site, by month and year) and, per landfill, the modelled years and
    the engines' actual years from ``store`` (empty without engine telemetry)."""
    kpis = tonnage_kpis(city.tonnage.records, city.population, city.sites) if city.tonnage else None
    landfills = []
    for lf in city.landfills:
        years = landfill_years(lf)
        ops = operations_by_year(store, lf) if store is not None and lf.engines else []
        landfills.append(
            {
                "name": lf.name,
                "k_per_year": lf.k,
                "L0_m3_per_t": lf.l0_m3_per_t,
                "collection_efficiency": lf.collection_efficiency,
                "band": list(lf.band),
                "recorded_years": list(lf.recorded_years),
                "years": years.to_dict("list"),
                "operations": ops,
            }
        )
    return {"name": city.name, "population": city.population, "kpis": kpis, "landfills": landfills}


def public_waste(report: dict[str, Any]) -> dict[str, Any]:
    """The transparency figures: the latest complete year's diversion, landfilled share, kg/capita/day
    and electricity made from landfill gas; no site-level or personal data."""
    kpis = report.get("kpis") or {}
    years = [y for y in kpis.get("years", []) if y["days"] >= 365]
    latest = years[-1] if years else None
    energy = [(o["year"], o["energy_mwh"]) for lf in report["landfills"] for o in lf["operations"]]
    last_energy_year = max((y for y, _ in energy), default=None)
    return {
        "name": report["name"],
        "year": latest["period"] if latest else None,
        "diversion_pct": latest["diversion_pct"] if latest else None,
        "landfill_pct": latest["landfill_pct"] if latest else None,
        "kg_per_capita_day": latest["kg_per_capita_day"] if latest else None,
        "t_per_day": latest["t_per_day"] if latest else None,
        "energy_year": last_energy_year,
        "energy_mwh": sum(e for y, e in energy if y == last_energy_year) if energy else None,
    }
