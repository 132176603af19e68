"""The overview's figures in a user's display units: a ``display`` section beside the SI-named ones.

The cached overview (shared by every user) keeps its SI fields (``real_losses_m3``, ``size_lps``);
:func:`overview_in_units` adds what this user reads: the unit per quantity and the same figures in it.
"""

from __future__ import annotations

from typing import Any

from tirta.units import SI_UNITS, shown_value

__all__ = ["overview_in_units"]


def _in(
    value: float | None, quantity: str, shown: dict[str, str], si_per_value: float = 1.0
) -> float | None:
    """A value given in ``si_per_value`` SI units, in the display unit of ``quantity``."""
    if value is None:
        return None
    out, _ = shown_value(float(value) * si_per_value, quantity, shown)
    return out


def overview_in_units(data: dict[str, Any], shown: dict[str, str]) -> dict[str, Any]:
    """``data`` (from :func:`tirta.web.overview.overview`) plus ``display``: units (flow, volume),
    KPI volumes and each open event's size and water lost in them, in the order of ``events``."""
    units = {q: shown.get(q, SI_UNITS[q]) for q in ("flow", "volume")}
    kpis = data.get("kpis", {})
    display = {
        "units": units,
        "kpis": {
            "real_losses": _in(kpis.get("real_losses_m3"), "volume", shown),
            "water_lost_month": _in(kpis.get("water_lost_month_m3"), "volume", shown),
        },
        "events": [
            {
                "id": e["id"],
                "size": _in(e.get("size_lps"), "flow", shown, 1e-3),
                "water_lost": _in(e.get("water_lost_m3"), "volume", shown),
            }
            for e in data.get("events", [])
        ],
    }
    return {**data, "display": display}
