"""Wastewater treatment: plants, lab results, effluent compliance against standards as data, KPIs,
and the IWA BSM1 process model run through bsm2-python (the optional extra ``tirta[wastewater]``)."""

from __future__ import annotations

from tirta.wastewater.compliance import ComplianceResult, judge, rolling_compliance
from tirta.wastewater.lab import LAB_COLUMNS, PARAMETERS, lab_frame, load_lab
from tirta.wastewater.standards import DEFAULT_STANDARD, Limit, Standard, load_effluent_standard

__all__ = [
    "DEFAULT_STANDARD",
    "LAB_COLUMNS",
    "PARAMETERS",
    "ComplianceResult",
    "Limit",
    "Standard",
    "judge",
    "lab_frame",
    "load_effluent_standard",
    "load_lab",
    "rolling_compliance",
]
