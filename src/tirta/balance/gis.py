"""Per-DMA KPIs as a flat table for a GIS layer: the figures of ``tirta balance dmas``, SI-named.

Each row takes a DMA's balance report (:func:`tirta.balance.parallel.balance_all`) as it is, keeps the
period total and the night-flow analysis, and names every field with its SI unit (flows in m³/s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pandas as pd

__all__ = ["KPI_FIELDS", "dma_kpi_table"]

# field in the layer → (part of the report, key, factor to SI)
KPI_FIELDS: Final[dict[str, tuple[str, str, float]]] = {
    "covered_days": ("total", "covered_days", 1.0),
    "coverage": ("total", "coverage", 1.0),
    "system_input_m3": ("total", "inflow_m3", 1.0),
    "consumption_m3": ("total", "consumption_m3", 1.0),
    "billed_metered_m3": ("total", "billed_metered_m3", 1.0),
    "water_losses_m3": ("total", "water_losses", 1.0),
    "apparent_losses_m3": ("total", "apparent_losses", 1.0),
    "real_losses_m3": ("total", "real_losses", 1.0),
    "nrw_m3": ("total", "non_revenue_water", 1.0),
    "nrw_pct": ("total", "nrw_pct", 1.0),
    "ili": ("total", "ili", 1.0),
    "uarl_m3": ("total", "uarl_m3", 1.0),
    "average_pressure_m": ("total", "average_pressure_m", 1.0),
    "mnf_m3s": ("nightflow", "mnf_m3h", 1 / 3600.0),
    "legitimate_night_use_m3s": ("nightflow", "legitimate_night_use_m3h", 1 / 3600.0),
    "night_leakage_m3s": ("nightflow", "night_leakage_m3h", 1 / 3600.0),
    "ndf_s": ("nightflow", "ndf_h", 3600.0),
    "leakage_rate_m3s": ("nightflow", "daily_leakage_m3d", 1 / 86400.0),
    "night_ili": ("nightflow", "ili", 1.0),
    "night_real_losses_m3": ("nightflow", "real_losses_m3", 1.0),
}


def _value(report: Mapping[str, Any], part: str, key: str, factor: float) -> float | None:
    section = report.get(part) or {}
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) * factor


def dma_kpi_table(reports: Mapping[str, Mapping[str, Any]], start: str, end: str) -> pd.DataFrame:
    """One row per DMA: its name, the period (``start``/``end``, ISO, end exclusive), SI-named KPIs,
    the report's warnings and, for a DMA its data cannot balance, the error (KPIs then null)."""
    rows: list[dict[str, Any]] = []
    for name, rep in reports.items():
        row: dict[str, Any] = {"name": name, "period_from": start, "period_to": end}
        for field, (part, key, factor) in KPI_FIELDS.items():
            row[field] = _value(rep, part, key, factor)
        total = rep.get("total") or {}
        warnings = [*rep.get("warnings", []), *total.get("warnings", [])]
        row["band"] = total.get("band")
        row["warnings"] = "; ".join(str(w) for w in warnings) or None
        row["error"] = rep.get("error")
        rows.append(row)
    columns = ["name", "period_from", "period_to", *KPI_FIELDS, "band", "warnings", "error"]
    return pd.DataFrame(rows, columns=columns)
