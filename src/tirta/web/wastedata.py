"""The waste page and the public waste block: :func:`tirta.waste.city_report` read once a minute from the
configured ``waste.toml`` and the store, shaped for the charts (streams, diversion, gas, power, band)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from tirta.api.deps import get_state
from tirta.errors import TirtaError
from tirta.waste.city import city_report, load_city, public_waste
from tirta.web.state import web_state

__all__ = ["public_block", "waste_page"]

log = logging.getLogger("tirta.web.waste")


def _report(request: Request) -> dict[str, Any] | None:
    """The city report, cached for a minute; None when no waste file is configured."""
    state = get_state(request)
    path = state.settings.waste_file
    if path is None:
        return None
    return web_state(request).cache.get(
        ("waste", str(path)), lambda: city_report(load_city(path), state.store)
    )


def waste_page(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """(page data, error message): KPIs, monthly streams and rates, per landfill the curves and actuals."""
    try:
        report = _report(request)
    except TirtaError as exc:
        return None, str(exc)
    if report is None:
        return None, "no waste configuration: set TIRTA_WASTE_FILE to a waste.toml"
    kpis = report["kpis"] or {}
    months = [
        {
            "period": m["period"],
            "categories_t": m["categories_t"],
            "total_t": m["total_t"],
            "t_per_day": m["t_per_day"],
            "diversion_pct": m["diversion_pct"],
            "landfill_pct": m["landfill_pct"],
            "sorting_pct": m["sorting_pct"],
        }
        for m in kpis.get("months", [])
    ]
    landfills = []
    for lf in report["landfills"]:
        y = lf["years"]
        landfills.append(
            {
                "name": lf["name"],
                "k_per_year": lf["k_per_year"],
                "L0_m3_per_t": lf["L0_m3_per_t"],
                "band": lf["band"],
                "collection_efficiency": lf["collection_efficiency"],
                "year": y["year"],
                "methane_m3": y["methane_m3"],
                "collected_low_m3": [q * lf["band"][0] for q in y["methane_m3"]],
                "collected_high_m3": [q * lf["band"][1] for q in y["methane_m3"]],
                "power_mw": y["power_mw"],
                "power_low_mw": y["power_low_mw"],
                "power_high_mw": y["power_high_mw"],
                "operations": lf["operations"],
            }
        )
    summary = {k: kpis.get(k) for k in ("period", "total_t", "t_per_day", "kg_per_capita_day")}
    rates = ("diversion_pct", "recycling_pct", "composting_pct", "landfill_pct", "sorting_pct")
    summary.update({k: kpis.get(k) for k in rates})
    sites = {
        name: {k: s.get(k) for k in ("total_t", "t_per_day", *rates)}
        for name, s in kpis.get("sites", {}).items()
    }
    data = {
        "name": report["name"],
        "population": report["population"],
        "summary": summary,
        "sites": sites,
    }
    return {**data, "months": months, "landfills": landfills}, None


def public_block(request: Request) -> dict[str, Any] | None:
    """The public page's waste figures, or None (no waste file, or one that cannot be read: logged)."""
    try:
        report = _report(request)
    except TirtaError as exc:  # the public page shows no server paths; the log has the cause
        log.warning("public waste KPIs: the waste file cannot be used: %s", exc)
        return None
    return None if report is None else public_waste(report)
