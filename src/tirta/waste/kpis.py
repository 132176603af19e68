"""Waste KPIs from valid tonnage records: collected t/day and per capita, sorting and diversion rates.

Rates are shares of all collected mass (landfill-gas.md §3): diversion = recycling + composting (energy
recovery excluded), landfill diversion = everything not landfilled, sorting = mass that was not tipped
unsorted (``mixed``). Per site and city-wide, for the whole period and per month and year.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tirta.waste.tonnage import CATEGORIES, STREAMS, Site

__all__ = ["summarise", "tonnage_kpis"]


def _pct(part: float, total: float) -> float | None:
    return None if total <= 0 else 100.0 * part / total


def summarise(records: pd.DataFrame, days: float, population: float | None = None) -> dict[str, Any]:
    """Totals per stream and category (t), t/day, kg/capita/day and the rates (%) of one slice."""
    by_stream = records.groupby("stream")["tonnes"].sum()
    by_cat = records.groupby("category")["tonnes"].sum()
    total = float(records["tonnes"].sum())
    cat = {c: float(by_cat.get(c, 0.0)) for c in CATEGORIES}
    sorted_t = float(by_stream.drop("mixed", errors="ignore").sum())  # not total − mixed: no −0.0
    per_day = total / days if days > 0 else None
    out: dict[str, Any] = {
        "days": days,
        "total_t": total,
        "streams_t": {s: float(by_stream[s]) for s in STREAMS if s in by_stream.index},
        "categories_t": cat,
        "t_per_day": per_day,
        "kg_per_capita_day": (per_day * 1000.0 / population)
        if per_day is not None and population
        else None,
        "diversion_pct": _pct(cat["recycling"] + cat["composting"], total),
        "recycling_pct": _pct(cat["recycling"], total),
        "composting_pct": _pct(cat["composting"], total),
        "energy_recovery_pct": _pct(cat["energy_recovery"], total),
        "landfill_pct": _pct(cat["landfill"], total),
        "landfill_diversion_pct": _pct(total - cat["landfill"], total),
        "sorting_pct": _pct(sorted_t, total),
    }
    return out


def _periods(
    records: pd.DataFrame, freq: str, first: pd.Timestamp, last: pd.Timestamp, population: float | None
) -> list[dict[str, Any]]:
    """One summary per calendar month (``M``) or year (``Y``); days clipped to the records' span."""
    dates = pd.DatetimeIndex(records["date"])
    periods = dates.to_period(freq)
    out = []
    for period in pd.period_range(first.to_period(freq), last.to_period(freq), freq=freq):
        lo = max(period.start_time.normalize(), first)
        hi = min(period.end_time.normalize(), last)
        days = float((hi - lo).days + 1)
        part = records[np.asarray(periods == period)]
        out.append({"period": str(period), **summarise(part, days, population)})
    return out


def tonnage_kpis(
    records: pd.DataFrame,
    population: float | None = None,
    sites: Mapping[str, Site] | None = None,
) -> dict[str, Any]:
    """City-wide and per-site KPIs for the whole period, per month and per year (see :func:`summarise`).

    The period runs from the first to the last record date (whole days); per-capita figures use
    ``population`` city-wide and a site's own population where the sites file gives one.
    """
    if records.empty:
        return {"period": None, **summarise(records, 0.0), "months": [], "years": [], "sites": {}}
    dates = pd.DatetimeIndex(records["date"])
    first, last = dates.min().normalize(), dates.max().normalize()
    days = float((last - first).days + 1)
    out: dict[str, Any] = {
        "period": {"from": first.date().isoformat(), "to": last.date().isoformat(), "days": days},
        "population": population,
        **summarise(records, days, population),
        "months": _periods(records, "M", first, last, population),
        "years": _periods(records, "Y", first, last, population),
        "sites": {},
    }
    for site, part in records.groupby("site", sort=True):
        pop = sites[str(site)].population if sites and str(site) in sites else None
        out["sites"][str(site)] = {
            **summarise(part, days, pop),
            "months": _periods(part, "M", first, last, pop),
            "years": _periods(part, "Y", first, last, pop),
        }
    return out
