"""Each user's display units, kept as a record of the store beside the users (kind ``user.prefs``).

A user's choice (``metric``, ``us``, ``metric,flow=MLD`` …, see :func:`tirta.units.display_units`)
only changes what pages and JSON show; readings stay SI in the store. A user without a choice sees
the deployment's ``TIRTA_DISPLAY_UNITS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tirta.errors import UnitError
from tirta.telemetry.store.base import Store
from tirta.units import SI_UNITS, display_units, shown_in

__all__ = ["PREFS", "UnitChoice", "event_in_units", "set_units", "user_units"]

PREFS = "user.prefs"


@dataclass(frozen=True)
class UnitChoice:
    """What a user sees: ``units`` (their own spec when ``own``, else the deployment's ``default``)
    and the unit per quantity it gives (``shown``)."""

    user: str
    units: str
    own: bool
    default: str
    shown: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def user_units(store: Store, user: str, default: str) -> UnitChoice:
    """The display units of ``user``: their stored choice, else the deployment's ``default`` spec."""
    rec = store.get_record(PREFS, user)
    spec = str(rec.value.get("units") or "") if rec is not None else ""
    own = bool(spec)
    try:
        shown = display_units(spec if own else default)
    except UnitError:  # a stored choice no longer valid: the deployment's
        own, shown = False, display_units(default)
    return UnitChoice(user, spec if own else default or "si", own, default or "si", shown)


def set_units(store: Store, user: str, spec: str | None, default: str) -> UnitChoice:
    """Store ``user``'s display units after checking them (UnitError, field ``units``); an empty
    ``spec`` removes the choice, so the deployment's ``default`` applies again."""
    spec = (spec or "").strip()
    if len(spec) > 200:
        raise UnitError("display units are at most 200 characters", field="units")
    if spec:
        display_units(spec)
        store.put_record(PREFS, user, {"units": spec})
    else:
        store.delete_record(PREFS, user)
    return user_units(store, user, default)


def event_in_units(event: dict[str, Any], shown: dict[str, str]) -> dict[str, Any]:
    """``event`` (its SI-named fields kept) plus ``display``: its size (flow), water lost (volume) and a
    customer's loss a day (volume/day) in the display units ``shown``, named in ``display.units``."""
    volume = shown.get("volume", SI_UNITS["volume"])
    customer = event.get("customer") or {}
    display = {
        "units": {
            "flow": shown.get("flow", SI_UNITS["flow"]),
            "volume": volume,
            "loss": f"{volume}/day",
        },
        "size": shown_in(event.get("size_lps"), "flow", shown, 1e-3),
        "water_lost": shown_in(event.get("water_lost_m3"), "volume", shown),
        "loss_per_day": shown_in(customer.get("loss_m3_day"), "volume", shown),
    }
    return {**event, "display": display}
