"""Open data: the published KPI sets of a utility (current period, history, data validity, licence) and
the monthly NRW per DMA, as JSON and CSV rows. Only aggregates are published, never customer or meter ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd

from tirta.errors import InputError
from tirta.kpis.compute import KpiSet, compute_kpis
from tirta.kpis.utility import load_utility

__all__ = [
    "DEFAULT_LICENCE",
    "HISTORY_KPIS",
    "dma_nrw_rows",
    "kpi_rows",
    "load_published",
    "published_kpis",
]

DEFAULT_LICENCE: Final = "CC-BY-4.0"
#: indicators the history chart shows first (NRW and the IWA real-loss PIs beside it, reference §2)
HISTORY_KPIS: Final = ("6.1", "6.2", "6.3", "RL", "ILI", "15.1", "23.2", "OCC")
#: the only fields of a DMA month that are published (aggregate volumes; nothing per customer or meter)
DMA_FIELDS: Final = (
    "inflow_m3",
    "billed_m3",
    "nrw_m3",
    "nrw_pct",
    "nrw_pct_12m",
    "real_losses_m3",
    "data_coverage",
)


def load_published(path: str | Path) -> list[KpiSet]:
    """The KPI sets of a UTILITY.toml, or of every ``*.toml`` in a directory (one period each), oldest first."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.toml"))
        if not files:
            raise InputError("no UTILITY.toml files in the directory", file=p)
    elif p.is_file():
        files = [p]
    else:
        raise InputError("KPI inputs file not found", file=p)
    sets = [compute_kpis(load_utility(f)) for f in files]
    return sorted(sets, key=lambda s: (s.end, s.start))


def _licence(sets: Sequence[KpiSet]) -> str:
    return next((s.licence for s in reversed(sets) if s.licence), DEFAULT_LICENCE)


def published_kpis(sets: Sequence[KpiSet]) -> dict[str, Any]:
    """The open-data document: latest period's indicators with flags and grades, the history, the licence."""
    if not sets:
        return {
            "utility": None,
            "licence": DEFAULT_LICENCE,
            "period": None,
            "indicators": {},
            "history": [],
        }
    latest = sets[-1].to_dict()
    return {
        "utility": latest["utility"],
        "licence": _licence(sets),
        "period": {"from": latest["from"], "to": latest["to"], "days": latest["days"]},
        "currency": latest["currency"],
        "fx_usd": latest["fx_usd"],
        "data_validity": latest["data_validity"],
        "inputs": latest["inputs"],
        "indicators": latest["indicators"],
        "history": [
            {
                "from": s.start,
                "to": s.end,
                "days": s.days,
                "data_validity_score": s.data_validity.get("score"),
                "values": {k: v.value for k, v in s.indicators.items()},
            }
            for s in sets
        ],
    }


def kpi_rows(sets: Sequence[KpiSet]) -> list[dict[str, Any]]:
    """One CSV row per period and indicator, each with its licence."""
    licence = _licence(sets)
    rows = []
    for s in sets:
        for kid, v in s.indicators.items():
            rows.append(
                {
                    "utility": s.utility,
                    "from": s.start,
                    "to": s.end,
                    "days": s.days,
                    "id": kid,
                    "name": v.name,
                    "value": v.value,
                    "unit": v.unit,
                    "value_usd": v.value_usd,
                    "flags": ";".join(v.flags),
                    "reason": v.reason,
                    "grade": v.grade,
                    "inputs": ";".join(f"{k}={x:g}" for k, x in v.inputs.items()),
                    "licence": licence,
                }
            )
    return rows


def dma_nrw_rows(
    months_by_dma: Mapping[str, Iterable[Mapping[str, Any]]], licence: str = DEFAULT_LICENCE
) -> list[dict[str, Any]]:
    """Monthly NRW per DMA from the DMA balances' months (keys ``period``, ``system_input_volume``,
    ``billed_authorised``, ``non_revenue_water``, ``real_losses``, ``coverage``); aggregates only. NRW over
    the 12 months up to each month (billing lags production) is given once 12 consecutive months exist."""
    rows = []
    for dma, months in months_by_dma.items():
        window: list[tuple[str, float, float]] = []  # (month, inflow, nrw) of the months with a balance
        for m in sorted(months, key=lambda m: str(m["period"])):
            inflow = m.get("system_input_volume")
            if inflow is None:
                continue
            nrw = m.get("non_revenue_water")
            window = [*window, (str(m["period"]), inflow, nrw if nrw is not None else math.nan)][-12:]
            rows.append(
                {
                    "dma": dma,
                    "month": m["period"],
                    "inflow_m3": inflow,
                    "billed_m3": m.get("billed_authorised", m.get("billed_metered")),
                    "nrw_m3": nrw,
                    "nrw_pct": 100.0 * nrw / inflow if nrw is not None and inflow > 0 else None,
                    "nrw_pct_12m": _rolling_nrw_pct(window),
                    "real_losses_m3": m.get("real_losses"),
                    "data_coverage": m.get("coverage"),  # share of the month with readings
                    "flags": "negative_losses" if (nrw is not None and nrw < 0) else "",
                    "licence": licence,
                }
            )
    return rows


def _rolling_nrw_pct(window: Sequence[tuple[str, float, float]]) -> float | None:
    """NRW % of 12 consecutive months (None until there are 12, or with a gap or a missing NRW)."""
    if len(window) < 12:
        return None
    first = pd.Period(window[0][0], freq="M")
    if pd.Period(window[-1][0], freq="M") - first != 11 * first.freq:
        return None
    inflow = sum(w[1] for w in window)
    nrw = sum(w[2] for w in window)
    return 100.0 * nrw / inflow if inflow > 0 and math.isfinite(nrw) else None
