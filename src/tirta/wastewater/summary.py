"""One plant over a period: telemetry from the store, KPIs per month, lab compliance; the dict every view
(CLI ``--json``, monthly report, dashboard page) shows, so nothing is computed twice."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tirta.telemetry.store.base import Store
from tirta.wastewater.compliance import judge, rolling_compliance
from tirta.wastewater.kpis import monthly_kpis
from tirta.wastewater.lab import LAB_COLUMNS, lab_frame
from tirta.wastewater.plants import Plant
from tirta.wastewater.standards import load_effluent_standard

__all__ = ["empty_lab", "plant_summary", "plant_telemetry"]


def empty_lab() -> pd.DataFrame:
    """A lab frame with no rows (a plant whose lab results are not in yet)."""
    return lab_frame([list(LAB_COLUMNS)])


def plant_telemetry(
    store: Store, plant: Plant, start: pd.Timestamp | str, end: pd.Timestamp | str, every: str = "1h"
) -> pd.DataFrame:
    """The plant's sensors from the store as hourly means, one column per role (SI: m³/s, W)."""
    ids = {role: sid for role, sid in plant.sensors.items()}
    wide = store.read(list(ids.values()), start, end, every=every)
    return wide.rename(columns={sid: role for role, sid in ids.items()})


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 4)
    return value


def plant_summary(
    plant: Plant, telemetry: pd.DataFrame, lab: pd.DataFrame, standard: str | None = None
) -> dict[str, Any]:
    """JSON-ready summary: the plant, KPIs per month and in total, compliance and its rolling % by month."""
    std = load_effluent_standard(standard or plant.standard)
    table = monthly_kpis(telemetry, lab, plant)
    result = judge(lab, std)
    rolling = rolling_compliance(result, "365D") if len(result.samples) else pd.Series(dtype=float)
    months = [m for m in table.index if m != "total"]
    by_month: dict[str, float | None] = {}
    for month in months:
        upto = rolling[rolling.index.strftime("%Y-%m") <= month]
        by_month[month] = _clean(float(upto.iloc[-1])) if len(upto) else None
    return {
        "plant": plant.to_dict(),
        "period": {"from": months[0] if months else None, "to": months[-1] if months else None},
        "months": [{"month": m, **{k: _clean(v) for k, v in table.loc[m].items()}} for m in months],
        "total": {k: _clean(v) for k, v in table.loc["total"].items()},
        "compliance": result.to_dict(),
        "rolling_compliance_pct": by_month,
        "standard_name": std.name,
        "standard_source": std.source,
    }
