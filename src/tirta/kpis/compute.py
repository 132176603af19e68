"""Compute the indicator set of a utility's period inputs: each value with unit, period, inputs and flags.

A missing input or a zero denominator gives no value (None) and the reason, never 0 or infinity; coverage
over 100 % is stored raw and shown capped; annualised counts of a partial year are flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tirta.kpis.bands import classify
from tirta.kpis.definitions import INDICATORS, Indicator
from tirta.kpis.utility import UtilityInputs

__all__ = ["KpiSet", "KpiValue", "compute_indicator", "compute_kpis", "data_validity", "display_value"]

FULL_YEAR_DAYS = 365


@dataclass(frozen=True)
class KpiValue:
    """One indicator of one period; ``value`` is None with a ``reason`` when it cannot be computed."""

    id: str
    name: str
    value: float | None
    unit: str
    period: str  # "YYYY-MM-DD/YYYY-MM-DD"
    inputs: dict[str, float]
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None
    value_usd: float | None = None  # money indicators at the period-average rate fx_usd
    display: str | None = None  # what a page shows (capped coverage)
    grade: float | None = None  # weakest data-validity grade (1–10) of the inputs used
    bands: list[dict[str, str]] = field(default_factory=list)
    formula: str = ""


@dataclass(frozen=True)
class KpiSet:
    """The indicators of one utility over one period."""

    utility: str
    start: str
    end: str
    days: int
    currency: str | None
    fx_usd: float | None
    licence: str | None
    data_validity: dict[str, Any]
    indicators: dict[str, KpiValue]
    inputs: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # input → "file" or "store: …"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``tirta kpis compute --json``."""
        return {
            "utility": self.utility,
            "from": self.start,
            "to": self.end,
            "days": self.days,
            "currency": self.currency,
            "fx_usd": self.fx_usd,
            "licence": self.licence,
            "data_validity": self.data_validity,
            "inputs": dict(self.inputs),
            "input_sources": dict(self.sources),
            "notes": list(self.notes),
            "indicators": {
                k: {
                    "name": v.name,
                    "value": v.value,
                    "unit": v.unit,
                    "period": v.period,
                    "flags": list(v.flags),
                    "reason": v.reason,
                    "notes": list(v.notes),
                    "inputs": dict(v.inputs),
                    "value_usd": v.value_usd,
                    "display": v.display,
                    "grade": v.grade,
                    "bands": list(v.bands),
                    "formula": v.formula,
                }
                for k, v in self.indicators.items()
            },
        }


def display_value(value: float | None, cap: float | None = None) -> str | None:
    """The value as shown: rounded for reading (raw stays in ``value``), capped at ``cap`` with a note."""
    if value is None:
        return None
    if cap is not None and value > cap:
        return f"{cap:g} (capped)"
    size = abs(value)
    if size >= 10_000:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if size >= 100 else f"{value:.4f}"


def _variables(inputs: UtilityInputs) -> dict[str, float]:
    v = dict(inputs.values)
    d = float(inputs.days)
    v.update(D=d, ann=FULL_YEAR_DAYS / d, months=d * 12.0 / FULL_YEAR_DAYS)
    if "v_produced" in v and "v_exported" in v:
        v["Vs"] = v["v_produced"] - v["v_exported"]
        if "v_sold" in v:
            v["NRWv"] = v["Vs"] - v["v_sold"]
    if "pop_hc" in v and "pop_pwp" in v:
        v["pop_served"] = v["pop_hc"] + v["pop_pwp"]
    if "hours_supply" in v:
        v["T"] = v["hours_supply"] / 24.0
    return v


def compute_indicator(
    ind: Indicator, v: dict[str, float], inputs: UtilityInputs, incomplete: frozenset[str] = frozenset()
) -> KpiValue:
    """One indicator from the variables ``v`` (inputs plus derived); None with a reason when impossible.
    ``incomplete``: inputs read from data that do not cover the whole period (flagged ``partial_data``)."""
    period = f"{inputs.start.isoformat()}/{inputs.end.isoformat()}"
    needed = ind.inputs()
    used = {k: inputs.values[k] for k in needed if k in inputs.values}
    flags: list[str] = []
    if inputs.days < FULL_YEAR_DAYS:
        flags.append("partial_period")
    if incomplete & set(needed):
        flags.append("partial_data")
    graded = [inputs.grades[k] for k in needed if k in inputs.grades]
    grade = min(graded) if graded else None

    def empty(reason: str, flag: str) -> KpiValue:
        return KpiValue(
            ind.id,
            ind.name,
            None,
            ind.unit,
            period,
            used,
            [*flags, flag],
            [],
            reason,
            grade=grade,
            formula=ind.formula_text,
        )

    missing = [k for k in needed if k not in inputs.values]
    if missing:
        hint = " (give 0 if there is none)" if "v_exported" in missing else ""
        return empty(f"missing input: {', '.join(missing)}{hint}", "missing_input")
    if ind.denominator(v) == 0:
        return empty(f"denominator is zero: {ind.denominator_text}", "zero_denominator")
    value = ind.formula(v)
    if not math.isfinite(value):
        return empty("not a finite number", "not_finite")
    notes: list[str] = []
    if ind.annualised and inputs.days != FULL_YEAR_DAYS:
        flags.append("annualised")
        notes.append(f"annualised from {inputs.days} days (× 365/{inputs.days})")
    if ind.cap is not None and value > ind.cap:
        flags.append("over_100_capped")
        notes.append(f"raw value {value:.4f} is above {ind.cap:g}; shown capped")
    if ind.notes is not None:
        for flag, note in ind.notes(v):
            if flag not in flags:
                flags.append(flag)
            notes.append(note)
    fx = inputs.values.get("fx_usd")
    usd = value / fx if ind.money and fx else None
    bands = [{"scheme": b.scheme, "label": b.label, "source": b.source} for b in classify(ind.id, value)]
    return KpiValue(
        ind.id,
        ind.name,
        value,
        ind.unit,
        period,
        used,
        flags,
        notes,
        None,
        usd,
        display_value(value, ind.cap),
        grade,
        bands,
        ind.formula_text,
    )


def data_validity(inputs: UtilityInputs) -> dict[str, Any]:
    """Data-validity grade of the inputs: mean AWWA-style grade (1–10) × 10 → score out of 100."""
    given = [k for k in inputs.values if k != "fx_usd"]
    graded = [inputs.grades[k] for k in given if k in inputs.grades]
    score = 10.0 * sum(graded) / len(graded) if graded else None
    return {
        "score": score,
        "graded_inputs": len(graded),
        "inputs": len(given),
        "grades": dict(inputs.grades),
    }


def compute_kpis(
    inputs: UtilityInputs,
    sources: dict[str, str] | None = None,
    notes: list[str] | None = None,
    incomplete: frozenset[str] = frozenset(),
) -> KpiSet:
    """The whole indicator set of one utility and period (``sources``: where each input came from)."""
    v = _variables(inputs)
    return KpiSet(
        utility=inputs.utility,
        start=inputs.start.isoformat(),
        end=inputs.end.isoformat(),
        days=inputs.days,
        currency=inputs.currency,
        fx_usd=inputs.values.get("fx_usd"),
        licence=inputs.licence,
        data_validity=data_validity(inputs),
        indicators={ind.id: compute_indicator(ind, v, inputs, incomplete) for ind in INDICATORS},
        inputs=dict(inputs.values),
        sources=dict(sources) if sources is not None else {k: "file" for k in inputs.values},
        notes=list(notes or []),
    )
