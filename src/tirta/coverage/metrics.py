"""Coverage by district: population served, JMP shares, yearly trend and projection to a target year.

Served population = piped connections × persons per connection + public-tap users, capped at the
population (the common utility formula; coverage.md §2). JMP shares are of the population: piped on
premises (at best *safely managed*: continuity and quality are not in the file), basic (public taps and
other improved sources), limited, unimproved, surface water, and what the file leaves unknown.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tirta.errors import InputError

__all__ = ["JMP_COLUMNS", "coverage_by_year", "project", "totals"]

JMP_COLUMNS = (
    "piped_on_premises_pct",
    "basic_pct",
    "limited_pct",
    "unimproved_pct",
    "surface_water_pct",
    "unknown_pct",
)


def coverage_by_year(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage of every district-year row: served/unserved population, coverage % and JMP shares."""
    t = table.copy()
    pop = t["population"]
    on_premises = t["piped_connections"] * t["persons_per_connection"]
    t["served_population"] = np.minimum(on_premises + t["public_tap_users"], pop)
    t["unserved_population"] = pop - t["served_population"]
    t["coverage_pct"] = 100.0 * t["served_population"] / pop
    premises = np.minimum(on_premises, pop)
    basic = np.minimum(t["public_tap_users"] + t["pop_basic"], pop - premises)
    rest = pop - premises - basic
    limited = np.minimum(t["pop_limited"], rest)
    rest = rest - limited
    unimproved = np.minimum(t["pop_unimproved"], rest)
    rest = rest - unimproved
    surface = np.minimum(t["pop_surface_water"], rest)
    rest = rest - surface
    for col, part in zip(
        JMP_COLUMNS, (premises, basic, limited, unimproved, surface, rest), strict=True
    ):
        t[col] = 100.0 * part / pop
    declared = (
        on_premises
        + t[["public_tap_users", "pop_basic", "pop_limited", "pop_unimproved"]].sum(axis=1)
        + t["pop_surface_water"]
    )
    t["sources_exceed_population"] = declared > pop * 1.0001
    if "households" in t:
        t["connections_per_household"] = t["piped_connections"] / t["households"].where(
            t["households"] > 0
        )
    return t


def _slope(years: np.ndarray, values: np.ndarray) -> float:
    """Least-squares change per year; NaN with fewer than two years."""
    if len(years) < 2 or np.ptp(years) == 0:
        return math.nan
    return float(np.polyfit(years.astype(float), values.astype(float), 1)[0])


def project(table: pd.DataFrame, *, target_pct: float = 100.0, target_year: int = 2030) -> pd.DataFrame:
    """Per district (latest year): coverage now, connection and population trends, and the projection.

    ``connections_needed_per_year``: connections a year from the latest year to ``target_year`` to serve
    ``target_pct`` of the (trend-projected) population; ``projected_coverage_pct``: coverage in
    ``target_year`` at the current connection rate (the least-squares trend of the yearly snapshots);
    ``target_reached_year``: when that rate reaches the target (None: not at this rate).
    """
    if not 0 < target_pct <= 100:
        raise InputError(f"must be within 0–100, got {target_pct}", field="target-pct")
    cov = coverage_by_year(table)
    rows = []
    for name, g in cov.groupby("district", sort=False):
        g = g.sort_values("year")
        last = g.iloc[-1]
        years_left = target_year - int(last["year"])
        if years_left <= 0:
            raise InputError(
                f"target year {target_year} is not after the latest year {int(last['year'])} of '{name}'",
                field="target-year",
            )
        yrs = g["year"].to_numpy()
        rate = _slope(yrs, g["piped_connections"].to_numpy())
        growth = _slope(yrs, g["population"].to_numpy())
        g_pop = 0.0 if math.isnan(growth) else growth
        ppc, taps = float(last["persons_per_connection"]), float(last["public_tap_users"])
        conns, pop = float(last["piped_connections"]), float(last["population"])
        pop_t = max(pop + g_pop * years_left, 0.0)
        share = target_pct / 100.0
        need_t = max((share * pop_t - taps) / ppc, 0.0)
        needed = max(need_t - conns, 0.0)
        row = {
            "district": name,
            "year": int(last["year"]),
            "years_of_data": len(g),
            "population": pop,
            "served_population": float(last["served_population"]),
            "unserved_population": float(last["unserved_population"]),
            "coverage_pct": float(last["coverage_pct"]),
            "piped_connections": conns,
            "household_size": float(last["household_size"]),
            "connections_per_year": rate,
            "population_growth_per_year": growth,
            "population_target_year": pop_t,
            "connections_needed": needed,
            "connections_needed_per_year": needed / years_left,
            "projected_coverage_pct": math.nan,
            "target_reached_year": None,
        }
        if not math.isnan(rate):
            conn_t = max(conns + rate * years_left, 0.0)
            row["projected_coverage_pct"] = (
                min(100.0, 100.0 * (conn_t * ppc + taps) / pop_t) if pop_t > 0 else 100.0
            )
            row["target_reached_year"] = _reached(
                conns, rate, ppc, taps, pop, g_pop, share, int(last["year"])
            )
        for col in (*JMP_COLUMNS, "sources_exceed_population"):
            row[col] = last[col]
        for col in ("node", "x", "y"):
            row[col] = last[col]
        rows.append(row)
    return pd.DataFrame(rows).set_index("district")


def _reached(
    conns: float,
    rate: float,
    ppc: float,
    taps: float,
    pop: float,
    growth: float,
    share: float,
    year: int,
) -> float | None:
    """Year when (conns + rate·t)·ppc + taps reaches share·(pop + growth·t); None if never."""
    gap = share * pop - taps - conns * ppc
    if gap <= 0:
        return float(year)
    speed = rate * ppc - share * growth
    if speed <= 0:
        return None
    return round(year + gap / speed, 2)


def totals(projection: pd.DataFrame) -> dict[str, float]:
    """Totals over districts: population, served, unserved, coverage %, connections needed a year."""
    pop = float(projection["population"].sum())
    served = float(projection["served_population"].sum())
    rate = projection["connections_per_year"]
    return {
        "population": pop,
        "served_population": served,
        "unserved_population": pop - served,
        "coverage_pct": 100.0 * served / pop if pop > 0 else math.nan,
        "piped_connections": float(projection["piped_connections"].sum()),
        "connections_needed": float(projection["connections_needed"].sum()),
        "connections_needed_per_year": float(projection["connections_needed_per_year"].sum()),
        "connections_per_year": float(rate.sum()) if rate.notna().any() else math.nan,
    }
