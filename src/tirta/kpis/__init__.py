"""Utility performance indicators (IBNET ids, IWA real-loss PIs) over every domain, peer comparison and open data.

One definition per indicator (:mod:`tirta.kpis.definitions`); values carry unit, period, inputs and flags.
"""

from __future__ import annotations

from tirta.kpis.bands import KpiBand, bands_for, classify
from tirta.kpis.compute import (
    KpiSet,
    KpiValue,
    compute_indicator,
    compute_kpis,
    data_validity,
    display_value,
)
from tirta.kpis.definitions import (
    DERIVED,
    INDICATORS,
    INPUT_VARIABLES,
    MONEY_INPUTS,
    Indicator,
    indicator,
)
from tirta.kpis.utility import UtilityInputs, load_utility, parse_utility

__all__ = [
    "DERIVED",
    "INDICATORS",
    "INPUT_VARIABLES",
    "MONEY_INPUTS",
    "Indicator",
    "KpiBand",
    "KpiSet",
    "KpiValue",
    "UtilityInputs",
    "bands_for",
    "classify",
    "compute_indicator",
    "compute_kpis",
    "data_validity",
    "display_value",
    "indicator",
    "load_utility",
    "parse_utility",
]
