"""Utility performance indicators (IBNET ids, IWA real-loss PIs), peer comparison and open data.

One definition per indicator (:mod:`tirta.kpis.definitions`); values carry unit, period, inputs and flags.
"""

from __future__ import annotations

from tirta.kpis.bands import KpiBand, bands_for, classify
from tirta.kpis.compare import Comparison, compare, load_peers
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
    E2_MINIMUM,
    INDICATORS,
    INPUT_VARIABLES,
    MONEY_INPUTS,
    Indicator,
    indicator,
)
from tirta.kpis.fromstore import StoreInputs, kpis_with_store, merge_inputs, store_inputs
from tirta.kpis.opendata import (
    DEFAULT_LICENCE,
    dma_nrw_rows,
    kpi_rows,
    load_published,
    published_kpis,
)
from tirta.kpis.utility import UtilityInputs, load_utility, parse_utility

__all__ = [
    "DEFAULT_LICENCE",
    "DERIVED",
    "E2_MINIMUM",
    "INDICATORS",
    "INPUT_VARIABLES",
    "MONEY_INPUTS",
    "Comparison",
    "Indicator",
    "KpiBand",
    "KpiSet",
    "KpiValue",
    "StoreInputs",
    "UtilityInputs",
    "bands_for",
    "classify",
    "compare",
    "compute_indicator",
    "compute_kpis",
    "data_validity",
    "display_value",
    "dma_nrw_rows",
    "indicator",
    "kpi_rows",
    "kpis_with_store",
    "load_peers",
    "load_published",
    "load_utility",
    "merge_inputs",
    "parse_utility",
    "published_kpis",
    "store_inputs",
]
