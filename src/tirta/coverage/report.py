"""The coverage report: districts → coverage now, projection to the target, ranked list (with a network)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tirta.coverage.districts import Districts
from tirta.coverage.metrics import JMP_COLUMNS, project, totals
from tirta.coverage.ranking import Siting, headroom_lps, locate, rank
from tirta.network.model import Network

__all__ = ["CoverageReport", "coverage_report"]


@dataclass
class CoverageReport:
    """Everything ``tirta coverage report`` prints and the planning page shows."""

    districts: Districts
    target_pct: float
    target_year: int
    projection: pd.DataFrame
    totals: dict[str, float]
    ranking: pd.DataFrame
    siting: dict[str, Siting] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per-district rows, totals, the ranked list and warnings (NaN → null)."""
        rows = []
        for name, r in self.projection.iterrows():
            rows.append(
                _clean(
                    {
                        "district": name,
                        "year": int(r["year"]),
                        "population": r["population"],
                        "served_population": r["served_population"],
                        "coverage_pct": round(float(r["coverage_pct"]), 3),
                        "unserved_population": r["unserved_population"],
                        "piped_connections": r["piped_connections"],
                        "connections_per_year": r["connections_per_year"],
                        "connections_needed_per_year": round(float(r["connections_needed_per_year"]), 2),
                        "projected_coverage_pct": r["projected_coverage_pct"],
                        "target_reached_year": r["target_reached_year"],
                        "jmp": {c.removesuffix("_pct"): round(float(r[c]), 3) for c in JMP_COLUMNS},
                    }
                )
            )
        return {
            "target_pct": self.target_pct,
            "target_year": self.target_year,
            "districts": rows,
            "totals": _clean(self.totals),
            "ranking": [_clean(r) for r in self.ranking.to_dict(orient="records")],
            "warnings": self.warnings,
        }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float) and math.isnan(v):
            v = None
        elif hasattr(v, "item"):  # numpy scalars
            v = v.item()
        out[str(k)] = round(v, 3) if isinstance(v, float) else v
    return out


def coverage_report(
    districts: Districts,
    *,
    target_pct: float = 100.0,
    target_year: int = 2030,
    net: Network | None = None,
    network_crs: str | None = None,
    residual_m: float = 10.0,
    lpcd: float = 150.0,
    peak_factor: float = 1.5,
) -> CoverageReport:
    """Coverage, projection and ranking; with ``net`` also distance and hydraulic headroom."""
    proj = project(districts.table, target_pct=target_pct, target_year=target_year)
    warnings = [
        f"district '{name}': connections and other sources add up to more than its population"
        for name in proj.index[proj["sources_exceed_population"].astype(bool)]
    ]
    if proj["connections_per_year"].isna().any():
        warnings.append(
            "districts with a single year have no connection trend: no projection at the current rate"
        )
    siting: dict[str, Siting] = {}
    headroom: dict[str, float] = {}
    if net is not None:
        siting = locate(districts, net, network_crs)
        nodes = [s.node for s in siting.values() if s.node is not None]
        headroom = headroom_lps(net, nodes, residual_m) if nodes else {}
    ranking = rank(proj, siting, headroom, lpcd=lpcd, peak_factor=peak_factor)
    tot = totals(proj)
    # supply side (coverage.md §6.4): the peak demand the unserved would add, to set against spare production
    tot["unserved_peak_demand_lps"] = tot["unserved_population"] * lpcd * peak_factor / 86_400.0
    return CoverageReport(districts, target_pct, target_year, proj, tot, ranking, siting, warnings)
