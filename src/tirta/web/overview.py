"""Overview figures: NRW and real losses per month from the DMA balances, open leaks, water lost.

The balances come from :func:`tirta.api.services.dma_report` (the same numbers as the API); months
without readings are skipped. "This month" is the month of the latest reading in the store, so a
replayed or delayed data set reads the same as a live one.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tirta.api import services
from tirta.balance import Billing
from tirta.balance.sanity import kpi_warnings, merge_warnings
from tirta.errors import TirtaError
from tirta.leaks.events import ACTIVE, list_events
from tirta.network import DMA, Network
from tirta.telemetry.store import Store

__all__ = ["data_now", "data_span", "monthly_nrw", "overview", "public_trend", "water_lost_in"]

log = logging.getLogger("tirta.web")


def data_span(store: Store) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last time of the stored raw readings (UTC), None for an empty store."""
    return store.span()


def data_now(store: Store) -> pd.Timestamp:
    """The dashboard's "now": the latest reading, or the wall clock when the store is empty."""
    return store.data_now()


def monthly_nrw(
    store: Store,
    model: tuple[Network, list[DMA]],
    months: int = 12,
    scheme: str = "wbi_developing",
    billing: Billing | None = None,
) -> list[dict[str, Any]]:
    """System NRW per month over the last ``months`` months of data: inflow, NRW and real losses (m³)
    summed over the DMAs whose balance could be computed, with the DMAs used."""
    span = data_span(store)
    if span is None:
        return []
    last = span[1].tz_convert(None).to_period("M")
    first = max(span[0].tz_convert(None).to_period("M"), last - (months - 1))
    by_month: dict[str, dict[str, Any]] = {}
    for dma in model[1]:
        try:
            report = services.dma_report(store, model, dma.name, str(first), str(last), scheme, billing)
        except TirtaError as exc:
            log.info("overview: no balance for DMA %s: %s", dma.name, exc)
            continue
        for m in report["months"]:
            if m.get("system_input_volume") is None:
                continue
            row = by_month.setdefault(
                m["period"],
                {
                    "period": m["period"],
                    "inflow_m3": 0.0,
                    "nrw_m3": 0.0,
                    "real_losses_m3": 0.0,
                    "dmas": [],
                    "dma_warnings": {},
                },
            )
            row["inflow_m3"] += m["system_input_volume"]
            row["nrw_m3"] += m.get("non_revenue_water") or 0.0
            row["real_losses_m3"] += m.get("real_losses") or 0.0
            row["dmas"].append(dma.name)
            if m.get("kpi_warnings"):
                row["dma_warnings"][f"DMA {dma.name}"] = m["kpi_warnings"]
    out = [by_month[k] for k in sorted(by_month)]
    for row in out:
        row["nrw_pct"] = 100.0 * row["nrw_m3"] / row["inflow_m3"] if row["inflow_m3"] > 0 else None
        flags = merge_warnings(row.pop("dma_warnings"))
        for key, texts in kpi_warnings(row["nrw_pct"], row["real_losses_m3"], None).items():
            flags.setdefault(key, []).extend(f"all DMAs: {t}" for t in texts)
        row["kpi_warnings"] = flags
    return out


def public_trend(trend: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The NRW trend anyone may see: a month whose NRW is flagged is withheld, with the reasons."""
    out = []
    for m in trend:
        why = (m.get("kpi_warnings") or {}).get("nrw_pct") or []
        out.append(
            {"period": m["period"], "nrw_pct": None if why else m["nrw_pct"], "withheld": list(why)}
        )
    return out


def water_lost_in(store: Store, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Water (m³) the known leaks lost between ``start`` and ``end``."""
    total = 0.0
    for e in list_events(store):
        total += max(e.water_lost_m3(end) - e.water_lost_m3(start), 0.0)
    return total


def overview(
    store: Store, model: tuple[Network, list[DMA]], audit_file: Any, billing: Billing | None = None
) -> dict[str, Any]:
    """KPIs, the NRW trend and the open events of the overview page."""
    now = data_now(store)
    month0 = now.tz_convert(None).to_period("M").start_time.tz_localize("UTC")
    trend = monthly_nrw(store, model, billing=billing)
    latest = trend[-1] if trend else None
    events = list_events(store)
    live = [e for e in events if e.status in ACTIVE]
    active = [e for e in live if e.kind == "leak"]  # the network's leaks, which crews go and dig for
    customer = [
        e for e in live if e.kind != "leak"
    ]  # behind a meter, or the meter itself: the billing desk
    public = services.public_kpis(store, audit_file)
    if latest:
        flags = latest["kpi_warnings"]
        warnings = {"nrw_pct": flags.get("nrw_pct", []), "real_losses_m3": flags.get("real_losses", [])}
    else:  # the published audit: what the public page withholds, the overview shows with its reasons
        held = public.get("withheld") or {}
        warnings = {"nrw_pct": held.get("nrw_pct", []), "real_losses_m3": held.get("real_losses", [])}
    out: dict[str, Any] = services.jsonable(
        {
            "as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kpis": {
                "nrw_pct": latest["nrw_pct"] if latest else public["nrw_pct"],
                "nrw_period": latest["period"] if latest else public["source"],
                "real_losses_m3": latest["real_losses_m3"] if latest else public["real_losses_m3"],
                "open_leaks": len(active),
                "open_customer_events": len(customer),
                "water_lost_month_m3": round(water_lost_in(store, month0, now), 1),
                "month": month0.strftime("%Y-%m"),
                "warnings": warnings,
            },
            "trend": trend,
            "events": [
                {
                    "id": e.id,
                    "status": e.status,
                    "dma": e.dma,
                    "pipe": e.pipe,
                    "size_lps": e.size_lps,
                    "detected_at": e.detected_at.strftime("%Y-%m-%d %H:%M"),
                    "water_lost_m3": round(e.water_lost_m3(now), 1),
                }
                for e in active
            ],
        }
    )
    return out
