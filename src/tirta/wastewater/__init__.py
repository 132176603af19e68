"""Wastewater treatment: plants, lab results, effluent compliance against standards as data, KPIs,
breach events, and the IWA BSM1 process model run through bsm2-python (extra ``tirta[wastewater]``)."""

from __future__ import annotations

from tirta.wastewater.compliance import ComplianceResult, judge, rolling_compliance
from tirta.wastewater.events import BREACH, Breach, breach_events, open_breach_events
from tirta.wastewater.kpis import KPI_COLUMNS, kpi_period, monthly_kpis
from tirta.wastewater.lab import LAB_COLUMNS, PARAMETERS, lab_frame, load_lab
from tirta.wastewater.plants import Plant, kpi_defaults, load_plants
from tirta.wastewater.standards import DEFAULT_STANDARD, Limit, Standard, load_effluent_standard
from tirta.wastewater.summary import plant_summary, plant_telemetry

__all__ = [
    "BREACH",
    "DEFAULT_STANDARD",
    "KPI_COLUMNS",
    "LAB_COLUMNS",
    "PARAMETERS",
    "Breach",
    "ComplianceResult",
    "Limit",
    "Plant",
    "Standard",
    "breach_events",
    "judge",
    "kpi_defaults",
    "kpi_period",
    "lab_frame",
    "load_effluent_standard",
    "load_lab",
    "load_plants",
    "monthly_kpis",
    "open_breach_events",
    "plant_summary",
    "plant_telemetry",
    "rolling_compliance",
]
