"""The overview's and the balance page's figures in a user's display units: a ``display`` section
beside the SI-named ones.

The cached overview and balances (shared by every user) keep their SI fields (``real_losses_m3``,
``size_lps``); :func:`overview_in_units` and :func:`balance_in_units` add what this user reads: the
unit per quantity and the same figures in it.
"""

from __future__ import annotations

from typing import Any

from tirta.reports import balance_svg
from tirta.units import SI_UNITS, shown_in

__all__ = ["balance_in_units", "overview_in_units"]


def overview_in_units(data: dict[str, Any], shown: dict[str, str]) -> dict[str, Any]:
    """``data`` (from :func:`tirta.web.overview.overview`) plus ``display``: units (flow, volume),
    KPI volumes and each open event's size and water lost in them, in the order of ``events``."""
    units = {q: shown.get(q, SI_UNITS[q]) for q in ("flow", "volume")}
    kpis = data.get("kpis", {})
    display = {
        "units": units,
        "kpis": {
            "real_losses": shown_in(kpis.get("real_losses_m3"), "volume", shown),
            "water_lost_month": shown_in(kpis.get("water_lost_month_m3"), "volume", shown),
        },
        "events": [
            {
                "id": e["id"],
                "size": shown_in(e.get("size_lps"), "flow", shown, 1e-3),
                "water_lost": shown_in(e.get("water_lost_m3"), "volume", shown),
            }
            for e in data.get("events", [])
        ],
    }
    return {**data, "display": display}


def balance_in_units(data: dict[str, Any], shown: dict[str, str]) -> dict[str, Any]:
    """``data`` (from :func:`tirta.web.balancedata.balance_page`, volumes in m³) plus ``display``: the
    volume unit, each component's value and margin, each month's inflow and real losses in it, and the
    box diagram drawn with those numbers."""
    comps = [
        {
            "name": c["name"],
            "value": shown_in(c.get("value"), "volume", shown),
            "margin": shown_in(c.get("margin"), "volume", shown),
        }
        for c in data.get("components", [])
    ]
    months = [
        {
            "period": m["period"],
            "inflow": shown_in(m.get("inflow_m3"), "volume", shown),
            "real_losses": shown_in(m.get("real_losses_m3"), "volume", shown),
        }
        for m in data.get("months", [])
    ]
    drawn = {c["name"]: c for c in comps if c["value"] is not None}
    volume = shown.get("volume", SI_UNITS["volume"])
    display = {
        "units": {"volume": volume},
        "components": comps,
        "months": months,
        "svg": balance_svg(drawn, unit=volume.replace("m3", "m³"))
        if data.get("svg") and drawn
        else data.get("svg"),
    }
    return {**data, "display": display}
