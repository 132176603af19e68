"""Plant KPIs per period: load against design, removal, specific energy, sludge, biogas and CHP.

Pure functions over a wide telemetry frame (UTC index; columns named by role in SI: ``influent_flow``
m³/s, ``power`` W, ``biogas`` m³/s, ``sludge`` m³/s) and a lab frame (:func:`tirta.wastewater.lab.lab_frame`).
Volumes and energies integrate each reading over the interval up to the next one (the last reading over
the median interval). Formulas: tirta's reference notes wastewater.md §2.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import pandas as pd

from tirta.wastewater.plants import Plant

__all__ = ["KPI_COLUMNS", "kpi_period", "monthly_kpis"]

_DAY: Final = 86400.0
_J_PER_KWH: Final = 3.6e6
KPI_COLUMNS: Final = (
    "days",
    "treated_m3",
    "flow_avg_m3_d",
    "flow_peak_day_m3_d",
    "hydraulic_load_ratio",
    "hydraulic_peak_ratio",
    "bod_load_kg_d",
    "organic_load_ratio",
    "pe_served",
    "removal_bod5_pct",
    "removal_cod_pct",
    "removal_tss_pct",
    "removal_nh3_n_pct",
    "energy_kwh",
    "energy_kwh_m3",
    "cod_removed_kg",
    "energy_kwh_kg_cod_removed",
    "sludge_kg_tss",
    "sludge_kg_tss_kg_bod_removed",
    "biogas_m3",
    "biogas_m3_kg_cod_removed",
    "methane_m3",
    "methane_energy_kwh",
    "chp_electricity_kwh",
    "chp_heat_kwh",
    "chp_share_of_demand_pct",
    "do_avg_mg_l",
)


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds each reading stands for: up to the next reading, the median interval for the last."""
    if len(index) == 0:
        return np.zeros(0)
    t = index.as_unit("ns").asi8.astype(np.float64) / 1e9
    if len(t) == 1:
        return np.array([3600.0])
    dt = np.diff(t)
    return np.append(dt, np.median(dt))


def _integral(tele: pd.DataFrame, column: str, dt: np.ndarray) -> float | None:
    if column not in tele or tele[column].notna().sum() == 0:
        return None
    return float(np.nansum(tele[column].to_numpy(dtype=float) * dt))


def _means(lab: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Mean SI value per (point, parameter) of a lab frame."""
    if lab.empty:
        return {}
    grouped = lab.groupby(["point", "parameter"], sort=False)["value_si"].mean()
    return {(str(k[0]), str(k[1])): float(v) for k, v in grouped.items()}


def _ratio(num: float | None, den: float | None, scale: float = 1.0) -> float | None:
    if num is None or den is None or den == 0 or not math.isfinite(num) or not math.isfinite(den):
        return None
    return scale * num / den


def kpi_period(tele: pd.DataFrame, lab: pd.DataFrame, plant: Plant) -> dict[str, float | None]:
    """KPIs of one period: telemetry rows and lab rows of that period, in the units their names carry."""
    c = plant.constants
    dt = _seconds(pd.DatetimeIndex(tele.index))
    days = float(dt.sum()) / _DAY
    volume = _integral(tele, "influent_flow", dt)
    flow_d = _ratio(volume, days)
    peak_d = None
    if volume is not None and len(tele):
        daily = (tele["influent_flow"].astype(float) * dt).resample("1D").sum(min_count=1)
        peak_d = float(daily.max())
    means = _means(lab)
    conc = {
        p: (means.get(("influent", p)), means.get(("effluent", p)))
        for p in ("BOD5", "COD", "TSS", "NH3_N")
    }
    removal = {
        p: _ratio(None if i is None or o is None else i - o, i, 100.0) for p, (i, o) in conc.items()
    }
    bod_in, bod_out = conc["BOD5"]
    cod_in, cod_out = conc["COD"]
    bod_load = None if flow_d is None or bod_in is None else flow_d * bod_in
    cod_removed = (
        None if volume is None or cod_in is None or cod_out is None else volume * (cod_in - cod_out)
    )
    bod_removed = (
        None if volume is None or bod_in is None or bod_out is None else volume * (bod_in - bod_out)
    )
    energy_j = _integral(tele, "power", dt)
    energy = None if energy_j is None else energy_j / _J_PER_KWH
    sludge_m3 = _integral(tele, "sludge", dt)
    sludge = None if sludge_m3 is None else sludge_m3 * c["sludge_solids_kg_m3"]
    biogas = _integral(tele, "biogas", dt)
    methane = None if biogas is None else biogas * c["methane_fraction"]
    ch4_kwh = None if methane is None else methane * c["methane_lhv_kwh_m3"]
    chp_el = None if ch4_kwh is None else ch4_kwh * c["chp_electrical_efficiency"]
    return {
        "days": days,
        "treated_m3": volume,
        "flow_avg_m3_d": flow_d,
        "flow_peak_day_m3_d": peak_d,
        "hydraulic_load_ratio": _ratio(flow_d, plant.design_flow_m3d),
        "hydraulic_peak_ratio": _ratio(peak_d, plant.design_flow_m3d),
        "bod_load_kg_d": bod_load,
        "organic_load_ratio": _ratio(bod_load, plant.design_bod_kg_d),
        "pe_served": _ratio(bod_load, c["bod_per_pe_kg_d"]),
        "removal_bod5_pct": removal["BOD5"],
        "removal_cod_pct": removal["COD"],
        "removal_tss_pct": removal["TSS"],
        "removal_nh3_n_pct": removal["NH3_N"],
        "energy_kwh": energy,
        "energy_kwh_m3": _ratio(energy, volume),
        "cod_removed_kg": cod_removed,
        "energy_kwh_kg_cod_removed": _ratio(energy, cod_removed),
        "sludge_kg_tss": sludge,
        "sludge_kg_tss_kg_bod_removed": _ratio(sludge, bod_removed),
        "biogas_m3": biogas,
        "biogas_m3_kg_cod_removed": _ratio(biogas, cod_removed),
        "methane_m3": methane,
        "methane_energy_kwh": ch4_kwh,
        "chp_electricity_kwh": chp_el,
        "chp_heat_kwh": None if ch4_kwh is None else ch4_kwh * c["chp_thermal_efficiency"],
        "chp_share_of_demand_pct": _ratio(chp_el, energy, 100.0),
        "do_avg_mg_l": _do_mg_l(tele),
    }


def _do_mg_l(tele: pd.DataFrame) -> float | None:
    """Mean dissolved oxygen of the aeration basin (mg/L) over the period's readings."""
    if "dissolved_oxygen" not in tele or tele["dissolved_oxygen"].notna().sum() == 0:
        return None
    return float(tele["dissolved_oxygen"].mean()) * 1e3


def monthly_kpis(tele: pd.DataFrame, lab: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """KPIs per calendar month (index ``YYYY-MM``) and a ``total`` row over the whole span."""
    tele = tele.sort_index()
    months = sorted(
        set(pd.DatetimeIndex(tele.index).strftime("%Y-%m")) | set(lab["time"].dt.strftime("%Y-%m"))
    )
    rows: dict[str, dict[str, Any]] = {}
    tele_month = pd.DatetimeIndex(tele.index).strftime("%Y-%m")
    lab_month = lab["time"].dt.strftime("%Y-%m")
    for month in months:
        rows[month] = kpi_period(tele[tele_month == month], lab[lab_month == month], plant)
    rows["total"] = kpi_period(tele, lab, plant)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(KPI_COLUMNS)).astype(float)
