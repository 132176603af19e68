"""The IWA/AWWA top-down water balance: every component as a volume (m³) over the audit period.

Each component carries its method (measured, estimated, default, or derived by arithmetic) and a 95 % margin.
Input errors are independent; a derived component is a ±1 sum of inputs, so its variance is the sum of theirs
(σ = margin / 1.96). A component given as a percent of a base volume carries its own margin, independent of
the base (as WB-EasyCalc does). Real losses are computed by difference and inherit every input error.
Exported water counts as billed authorised consumption (IWA), so NRW = SIV − billed authorised and
water losses = SIV − authorised consumption hold with or without exports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, TypeVar, cast

import numpy as np

from tirta.balance.standards import load_standard
from tirta.errors import InputError

__all__ = [
    "DERIVED_TERMS",
    "INPUT_COMPONENTS",
    "METHODS",
    "Z95",
    "BalanceInputs",
    "Component",
    "Method",
    "Share",
    "Volume",
    "WaterBalance",
    "compute_balance",
    "derive",
]

Z95: Final = 1.96  # two-sided 95 % normal quantile: σ = margin / 1.96
Method = Literal["measured", "estimated", "default", "derived"]
METHODS: Final = ("measured", "estimated", "default")  # methods an input may declare

# The independent inputs of the balance, in the order they are shown.
INPUT_COMPONENTS: Final = (
    "own_sources",
    "imported",
    "exported",
    "billed_metered",
    "billed_unmetered",
    "unbilled_metered",
    "unbilled_unmetered",
    "unauthorised_consumption",
    "customer_meter_inaccuracies",
    "data_handling_errors",
)

# Inputs each derived component sums or subtracts (all coefficients ±1): its variance is the sum of theirs.
DERIVED_TERMS: Final[dict[str, tuple[str, ...]]] = {
    "system_input_volume": ("own_sources", "imported"),
    "water_supplied": ("own_sources", "imported", "exported"),
    "billed_authorised": ("exported", "billed_metered", "billed_unmetered"),
    "unbilled_authorised": ("unbilled_metered", "unbilled_unmetered"),
    "authorised_consumption": (
        "exported",
        "billed_metered",
        "billed_unmetered",
        "unbilled_metered",
        "unbilled_unmetered",
    ),
    "water_losses": INPUT_COMPONENTS[:7],
    "apparent_losses": (
        "unauthorised_consumption",
        "customer_meter_inaccuracies",
        "data_handling_errors",
    ),
    "real_losses": INPUT_COMPONENTS,
    "revenue_water": ("exported", "billed_metered", "billed_unmetered"),
    "non_revenue_water": ("own_sources", "imported", "exported", "billed_metered", "billed_unmetered"),
}

ArrayT = TypeVar("ArrayT", float, np.ndarray)


@dataclass(frozen=True)
class Volume:
    """An input volume over the audit period (m³), or a plain percent for the meter under-registration."""

    value: float
    margin_pct: float | None = None  # 95 % margin in % of the value; None: the method's default
    method: Literal["measured", "estimated", "default"] | None = None  # None: chosen per component
    grade: float | None = None  # AWWA data grade 1–10; None: the method's default


@dataclass(frozen=True)
class Share:
    """An input given as a percent of a base volume (water supplied or billed metered)."""

    pct: float  # % of the base volume
    margin_pct: float | None = None  # 95 % margin in % of the resulting volume
    method: Literal["measured", "estimated", "default"] | None = None
    grade: float | None = None


@dataclass(frozen=True)
class BalanceInputs:
    """What a top-down audit needs; the three defaultable components fall back to AWWA defaults when None."""

    own_sources: Volume
    imported: Volume
    exported: Volume
    billed_metered: Volume
    billed_unmetered: Volume
    unbilled_metered: Volume
    customer_meter_under_registration_pct: Volume  # % of TRUE metered consumption, 0 ≤ e < 100
    unbilled_unmetered: Volume | Share | None = None  # Share base: water supplied
    unauthorised: Volume | Share | None = None  # Share base: water supplied
    data_handling_errors: Volume | Share | None = None  # Share base: billed metered


@dataclass(frozen=True)
class Component:
    """One line of the balance: a volume over the period with its method and 95 % margin (both m³)."""

    name: str
    value: float  # m³ over the period
    margin: float  # 95 % margin, m³ (half-width of the 95 % interval)
    method: Method
    period_days: float
    unit: str = "m3"
    grade: float | None = None  # 1–10 for inputs, None for derived components
    basis: str = ""  # how the value was obtained, e.g. "1.25 % of water supplied"

    @property
    def sigma(self) -> float:
        """Standard deviation, m³."""
        return self.margin / Z95

    @property
    def margin_pct(self) -> float:
        """95 % margin in % of the value (nan for a zero value)."""
        return 100.0 * self.margin / abs(self.value) if self.value else math.nan

    @property
    def ci95(self) -> tuple[float, float]:
        """95 % interval, m³."""
        return (self.value - self.margin, self.value + self.margin)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (floats, strings, None)."""
        return {
            "value": self.value,
            "unit": self.unit,
            "period_days": self.period_days,
            "method": self.method,
            "margin": self.margin,
            "margin_pct": None if math.isnan(self.margin_pct) else self.margin_pct,
            "ci95": list(self.ci95),
            "grade": self.grade,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class WaterBalance:
    """All components of the IWA/AWWA balance over one audit period (m³)."""

    period_days: float
    customer_meter_under_registration_pct: float  # % of true metered consumption
    own_sources: Component
    imported: Component
    system_input_volume: Component
    exported: Component
    water_supplied: Component
    billed_metered: Component
    billed_unmetered: Component
    billed_authorised: Component
    unbilled_metered: Component
    unbilled_unmetered: Component
    unbilled_authorised: Component
    authorised_consumption: Component
    water_losses: Component
    unauthorised_consumption: Component
    customer_meter_inaccuracies: Component
    data_handling_errors: Component
    apparent_losses: Component
    real_losses: Component
    revenue_water: Component
    non_revenue_water: Component

    def components(self) -> dict[str, Component]:
        """Every component by name, in balance order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.type == "Component"}

    def inputs(self) -> dict[str, Component]:
        """The independent input components (not derived by arithmetic)."""
        return {name: getattr(self, name) for name in INPUT_COMPONENTS}


def derive(leaves: Mapping[str, ArrayT]) -> dict[str, ArrayT]:
    """The derived balance volumes from the input volumes; works on floats and numpy arrays alike."""
    own, imported, exported = leaves["own_sources"], leaves["imported"], leaves["exported"]
    siv = own + imported
    billed = exported + leaves["billed_metered"] + leaves["billed_unmetered"]
    unbilled = leaves["unbilled_metered"] + leaves["unbilled_unmetered"]
    authorised = billed + unbilled
    losses = siv - authorised
    apparent = (
        leaves["unauthorised_consumption"]
        + leaves["customer_meter_inaccuracies"]
        + leaves["data_handling_errors"]
    )
    return {
        "system_input_volume": siv,
        "water_supplied": siv - exported,
        "billed_authorised": billed,
        "unbilled_authorised": unbilled,
        "authorised_consumption": authorised,
        "water_losses": losses,
        "apparent_losses": apparent,
        "real_losses": losses - apparent,
        "revenue_water": billed,
        "non_revenue_water": siv - billed,
    }


def _defaults() -> dict[str, Any]:
    return load_standard("water_audit_defaults")


def _check_number(value: object, field: str, *, what: str = "value") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, got {value!r}", field=field)
    if value < 0:
        raise InputError(f"{what} must not be negative, got {value}", field=field)
    return float(value)


def _meta(item: Volume | Share, field: str, method: str) -> tuple[Method, float, float]:
    """Method, 95 % margin in % and grade of an input, filling tirta's defaults by method."""
    method = item.method or method
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}", field=field)
    d = _defaults()
    margin = d["margin_pct"][method] if item.margin_pct is None else item.margin_pct
    margin = _check_number(margin, f"{field}.margin_pct", what="margin_pct")
    grade = d["grade"][method] if item.grade is None else item.grade
    grade = _check_number(grade, f"{field}.grade", what="grade")
    if not 1.0 <= grade <= 10.0:
        raise InputError(f"grade must be within 1–10, got {grade}", field=field + ".grade")
    return cast(Method, method), margin, grade


def compute_balance(inputs: BalanceInputs, days: float = 365.0) -> WaterBalance:
    """Build the balance from its inputs over ``days``; percents resolve against water supplied / billed metered.

    Raises InputError (field named ``volumes.<key>``) for negative or inconsistent inputs.
    """
    days = _check_number(days, "system.days", what="days")
    if days <= 0:
        raise InputError("the audit period must be longer than 0 days", field="system.days")
    comps: dict[str, Component] = {}

    def measured(key: str, name: str, item: Volume, method: str) -> float:
        fld = f"volumes.{key}"
        if not isinstance(item, Volume):
            raise InputError("expected a volume in m³, not a percent", field=fld)
        value = _check_number(item.value, fld)
        meth, margin_pct, grade = _meta(item, fld, method)
        comps[name] = Component(
            name,
            value,
            value * margin_pct / 100.0,
            meth,
            days,
            grade=grade,
            basis="volume given",
        )
        return value

    own = measured("own_sources", "own_sources", inputs.own_sources, "measured")
    imported = measured("imported", "imported", inputs.imported, "measured")
    exported = measured("exported", "exported", inputs.exported, "measured")
    if own + imported <= 0:
        raise InputError("system input volume (own sources + imported) must be above 0", field="volumes")
    supplied = own + imported - exported
    if supplied < 0:
        raise InputError(
            f"exported ({exported:g} m³) exceeds the system input volume ({own + imported:g} m³)",
            field="volumes.exported",
        )
    billed_metered = measured("billed_metered", "billed_metered", inputs.billed_metered, "measured")
    measured("billed_unmetered", "billed_unmetered", inputs.billed_unmetered, "estimated")
    measured("unbilled_metered", "unbilled_metered", inputs.unbilled_metered, "measured")

    bases = {"water supplied": supplied, "billed metered": billed_metered}

    def shared(key: str, name: str, item: Volume | Share | None, base: str) -> None:
        fld = f"volumes.{key}"
        if item is None:
            spec = _defaults()["defaults"][key]
            pct = next(v for k, v in spec.items() if k.startswith("pct_of_"))
            item = Share(pct, margin_pct=spec["margin_pct"], method="default")
        if isinstance(item, Volume):
            measured(key, name, item, "estimated")
            return
        pct = _check_number(item.pct, fld, what="percent")
        if pct > 100.0:
            raise InputError(f"percent must be at most 100, got {pct}", field=fld)
        meth, margin_pct, grade = _meta(item, fld, "estimated")
        value = bases[base] * pct / 100.0
        comps[name] = Component(
            name,
            value,
            value * margin_pct / 100.0,
            meth,
            days,
            grade=grade,
            basis=f"{pct:g} % of {base}",
        )

    shared("unbilled_unmetered", "unbilled_unmetered", inputs.unbilled_unmetered, "water supplied")
    shared("unauthorised", "unauthorised_consumption", inputs.unauthorised, "water supplied")

    key = "customer_meter_under_registration_pct"
    cmi = inputs.customer_meter_under_registration_pct
    if not isinstance(cmi, Volume):
        raise InputError(
            "expected the under-registration in % of true metered use", field=f"volumes.{key}"
        )
    e_pct = _check_number(cmi.value, f"volumes.{key}", what="percent")
    if e_pct >= 100.0:
        raise InputError(f"under-registration must be below 100 %, got {e_pct}", field=f"volumes.{key}")
    meth, margin_pct, grade = _meta(cmi, f"volumes.{key}", "estimated")
    e = e_pct / 100.0
    cmi_value = billed_metered * e / (1.0 - e)  # meters record (1 − e) of the true use
    comps["customer_meter_inaccuracies"] = Component(
        "customer_meter_inaccuracies",
        cmi_value,
        cmi_value * margin_pct / 100.0,
        meth,
        days,
        grade=grade,
        basis=f"billed metered × e/(1 − e), e = {e_pct:g} % of true metered use",
    )
    shared("data_handling_errors", "data_handling_errors", inputs.data_handling_errors, "billed metered")

    values = {name: comps[name].value for name in INPUT_COMPONENTS}
    for name, value in derive(values).items():
        variance = sum(comps[leaf].sigma ** 2 for leaf in DERIVED_TERMS[name])
        comps[name] = Component(name, value, Z95 * math.sqrt(variance), "derived", days, basis="derived")
    order = [f.name for f in fields(WaterBalance) if f.type == "Component"]
    return WaterBalance(
        period_days=days,
        customer_meter_under_registration_pct=e_pct,
        **{name: comps[name] for name in order},
    )
