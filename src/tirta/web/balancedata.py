"""The balance page: a DMA's IWA water balance for a period, its components with 95 % margins, the
box diagram and the monthly NRW/ILI table, from :func:`tirta.api.services.dma_report`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tirta.api import services
from tirta.balance import Billing
from tirta.network import DMA, Network
from tirta.reports import balance_svg
from tirta.reports.diagram import LABELS
from tirta.telemetry.store import Store
from tirta.web.overview import data_span

__all__ = ["balance_page", "default_period"]


def default_period(store: Store) -> tuple[str, str]:
    """The month of the latest reading, as (from, to) ``YYYY-MM``; the current month when empty."""
    span = data_span(store)
    last = (span[1] if span else pd.Timestamp.now(tz="UTC")).tz_convert(None).to_period("M")
    return str(last), str(last)


def balance_page(
    store: Store,
    model: tuple[Network, list[DMA]],
    dma: str,
    start: str,
    end: str,
    scheme: str,
    billing: Billing | None = None,
) -> dict[str, Any]:
    """Components (value, margin, 95 % interval, method), KPIs, months, warnings and the SVG diagram."""
    report = services.dma_report(store, model, dma, start, end, scheme, billing)
    total = report["total"]
    comps = total.get("components") or {}
    rows = [
        {
            "name": name,
            "label": LABELS.get(name, name.replace("_", " ")),
            "value": c.get("value"),
            "margin": c.get("margin"),
            "ci95": c.get("ci95"),
            "method": c.get("method"),
            "grade": c.get("grade"),
        }
        for name, c in comps.items()
    ]
    svg = balance_svg(comps) if comps else None
    months = [
        {
            "period": m["period"],
            "inflow_m3": m.get("inflow_m3"),
            "nrw_pct": m.get("nrw_pct"),
            "real_losses_m3": m.get("real_losses"),
            "ili": m.get("ili"),
            "ili_ci95": m.get("ili_ci95"),
            "coverage": m.get("coverage"),
            "kpi_warnings": m.get("kpi_warnings") or {},
        }
        for m in report["months"]
    ]
    kpis = {
        k: total.get(k)
        for k in (
            "nrw_pct",
            "ili",
            "ili_ci95",
            "band",
            "real_losses_l_per_conn_day",
            "real_losses_ci95",
            "coverage",
            "covered_days",
        )
    }
    flags = total.get("kpi_warnings") or {}
    kpis["warnings"] = flags
    flagged = [f"{k}: {w}" for k, texts in flags.items() for w in texts]
    warnings = flagged + list(report.get("warnings") or []) + list(total.get("notes") or [])
    return {
        "dma": dma,
        "from": start,
        "to": end,
        "scheme": scheme,
        "components": rows,
        "kpis": kpis,
        "months": months,
        "svg": svg,
        "warnings": warnings,
        "nightflow": report.get("nightflow"),
    }
