"""Open-data services of the public API: published KPIs (from the deployment's KPI inputs) and monthly NRW
per DMA (from the stored balances), as JSON documents and CSV rows with their licence; aggregates only."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tirta.api import services
from tirta.balance import Billing
from tirta.errors import TirtaError
from tirta.kpis.opendata import DEFAULT_LICENCE, dma_nrw_rows, kpi_rows, load_published, published_kpis
from tirta.network import DMA, Network
from tirta.telemetry.store import Store

__all__ = ["dma_nrw", "public_fields", "public_page", "published", "published_rows"]

log = logging.getLogger("tirta.api")


def _sets(kpis_file: Path | None) -> list[Any]:
    if kpis_file is None:
        return []
    try:
        return load_published(kpis_file)
    except TirtaError as exc:  # the public page shows no server paths; the log has the cause
        log.warning("published KPIs unavailable: %s", exc)
        return []


def published(kpis_file: Path | None) -> dict[str, Any]:
    """The published KPI document (empty indicators when no KPI inputs are configured or readable)."""
    return services.jsonable(published_kpis(_sets(kpis_file)))  # type: ignore[no-any-return]


def published_rows(kpis_file: Path | None) -> list[dict[str, Any]]:
    """CSV rows of the published KPIs, every period, each with the licence."""
    return kpi_rows(_sets(kpis_file))


def dma_nrw(
    store: Store,
    model: tuple[Network, list[DMA]],
    billing: Billing | None,
    kpis_file: Path | None = None,
    months: int = 12,
) -> list[dict[str, Any]]:
    """Monthly NRW per DMA over the last ``months`` months of stored data (DMAs without a balance skipped)."""
    sets = _sets(kpis_file)
    licence = next((s.licence for s in reversed(sets) if s.licence), DEFAULT_LICENCE)
    span = store.span()
    if span is None:
        return []
    last = span[1].tz_convert(None).to_period("M")
    first = max(span[0].tz_convert(None).to_period("M"), last - (months - 1))
    by_dma: dict[str, list[dict[str, Any]]] = {}
    for dma in model[1]:
        try:
            report = services.dma_report(
                store, model, dma.name, str(first), str(last), "wbi_developing", billing
            )
        except TirtaError as exc:
            log.info("open data: no balance for DMA %s: %s", dma.name, exc)
            continue
        by_dma[dma.name] = report["months"]
    return services.jsonable(dma_nrw_rows(by_dma, licence))  # type: ignore[no-any-return]


def public_fields(kpis_file: Path | None) -> dict[str, Any]:
    """The published-KPI fields ``GET /public/kpis`` adds to its figures."""
    doc = published(kpis_file)
    return {
        "utility": doc["utility"],
        "kpi_period": doc["period"],
        "indicators": doc["indicators"],
        "data_validity": doc.get("data_validity"),
        "history": doc["history"],
        "licence": doc["licence"],
    }


def public_page(kpis_file: Path | None) -> dict[str, Any]:
    """What the transparency page shows of the published KPIs: the document plus indicator names."""
    doc = published(kpis_file)
    doc["names"] = {k: v["name"] for k, v in doc["indicators"].items()}
    return doc
