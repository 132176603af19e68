"""Read a water audit file (AUDIT.toml: [system], [volumes], optional [costs]) and report its results.

Every key is checked: missing, negative, mistyped or unknown keys raise InputError naming the key, since a
typo that silently fell back to a default would give a wrong audit.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from tirta.balance.kpis import Costs, Kpis, SystemData, compute_kpis, kpis_to_dict
from tirta.balance.sanity import kpi_warnings
from tirta.balance.waterbalance import (
    METHODS,
    BalanceInputs,
    Share,
    Volume,
    WaterBalance,
    compute_balance,
)
from tirta.errors import InputError

__all__ = [
    "Audit",
    "AuditResult",
    "audit_json_schema",
    "audit_report",
    "audit_template",
    "load_audit",
    "parse_audit",
    "run_audit",
]

_SYSTEM_REQUIRED = ("mains_length_km", "connections", "private_pipe_length_km", "average_pressure_m")
_SYSTEM_OPTIONAL = {"supply_hours_per_day": 24.0, "days": 365.0}
# volume keys: the percent key each may use instead of value (None: a volume only)
_VOLUMES_REQUIRED: dict[str, str | None] = {
    "own_sources": None,
    "imported": None,
    "exported": None,
    "billed_metered": None,
    "billed_unmetered": None,
    "unbilled_metered": None,
    "customer_meter_under_registration_pct": None,
}
_VOLUMES_DEFAULTABLE: dict[str, str | None] = {
    "unbilled_unmetered": "pct_of_supplied",
    "unauthorised": "pct_of_supplied",
    "data_handling_errors": "pct_of_billed_metered",
}
_COSTS_REQUIRED = ("variable_production_cost_per_m3", "retail_tariff_per_m3")
_COSTS_OPTIONAL = ("operating_cost",)
_ITEM_KEYS = ("value", "margin_pct", "method", "grade")


@dataclass(frozen=True)
class Audit:
    """A parsed audit file."""

    system: SystemData
    inputs: BalanceInputs
    costs: Costs | None = None
    path: Path | None = None


@dataclass(frozen=True)
class AuditResult:
    """The balance and indicators of an audit."""

    audit: Audit
    balance: WaterBalance
    kpis: Kpis


#: no figure of an audit is this large (m³, km, connections, m, currency); bigger is a typo or an attack
MAX_FIGURE = 1e12


def _number(value: Any, fld: str, file: Path | None, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"expected a finite number, got {value!r}", file=file, field=fld)
    if abs(value) > MAX_FIGURE:
        raise InputError(f"must be at most {MAX_FIGURE:g}, got {value:g}", file=file, field=fld)
    if value < 0 or (positive and value == 0):
        rule = "must be above 0" if positive else "must not be negative"
        raise InputError(f"{rule}, got {value}", file=file, field=fld)
    return float(value)


def _table(
    doc: Mapping[str, Any], key: str, file: Path | None, *, required: bool = True
) -> dict[str, Any]:
    if key not in doc:
        if required:
            raise InputError(f"missing section [{key}]", file=file, field=key)
        return {}
    table = doc[key]
    if not isinstance(table, Mapping):
        raise InputError(f"expected a table [{key}]", file=file, field=key)
    return dict(table)


def _reject_unknown(table: Mapping[str, Any], known: set[str], section: str, file: Path | None) -> None:
    for key in table:
        if key not in known:
            raise InputError(
                f"unknown key; expected one of: {', '.join(sorted(known))}",
                file=file,
                field=f"{section}.{key}",
            )


def _item(raw: Any, key: str, pct_key: str | None, file: Path | None) -> Volume | Share:
    fld = f"volumes.{key}"
    if not isinstance(raw, Mapping):
        return Volume(_number(raw, fld, file))
    allowed = set(_ITEM_KEYS) | ({pct_key} if pct_key else set())
    _reject_unknown(raw, allowed, fld, file)
    given = [k for k in ("value", pct_key) if k and k in raw]
    if len(given) != 1:
        want = f"'value' or '{pct_key}'" if pct_key else "'value'"
        raise InputError(f"give exactly one of {want}", file=file, field=fld)
    margin = _number(raw["margin_pct"], f"{fld}.margin_pct", file) if "margin_pct" in raw else None
    grade = _number(raw["grade"], f"{fld}.grade", file) if "grade" in raw else None
    if grade is not None and not 1 <= grade <= 10:
        raise InputError(f"grade must be within 1–10, got {grade:g}", file=file, field=f"{fld}.grade")
    method = raw.get("method")
    if method is not None and method not in METHODS:
        raise InputError(
            f"method must be one of {', '.join(METHODS)}, got {method!r}",
            file=file,
            field=f"{fld}.method",
        )
    if given[0] == "value":
        return Volume(_number(raw["value"], fld, file), margin, method, grade)
    return Share(_number(raw[given[0]], f"{fld}.{given[0]}", file), margin, method, grade)


def parse_audit(doc: Mapping[str, Any], file: Path | None = None) -> Audit:
    """An :class:`Audit` from the parsed TOML document; InputError names the first bad key."""
    for key in doc:
        if key not in ("system", "volumes", "costs"):
            raise InputError(
                "unknown section; expected [system], [volumes], [costs]", file=file, field=key
            )
    sys_t = _table(doc, "system", file)
    _reject_unknown(sys_t, set(_SYSTEM_REQUIRED) | set(_SYSTEM_OPTIONAL), "system", file)
    figures: dict[str, float] = {}
    for key in _SYSTEM_REQUIRED:
        if key not in sys_t:
            raise InputError("missing key", file=file, field=f"system.{key}")
        positive = key != "private_pipe_length_km"
        figures[key] = _number(sys_t[key], f"system.{key}", file, positive=positive)
    for key, default in _SYSTEM_OPTIONAL.items():
        figures[key] = _number(sys_t.get(key, default), f"system.{key}", file, positive=True)
    if figures["supply_hours_per_day"] > 24:
        raise InputError("must be at most 24", file=file, field="system.supply_hours_per_day")
    system = SystemData(**figures)

    vol_t = _table(doc, "volumes", file)
    _reject_unknown(vol_t, set(_VOLUMES_REQUIRED) | set(_VOLUMES_DEFAULTABLE), "volumes", file)
    items: dict[str, Any] = {}
    for key, pct_key in _VOLUMES_REQUIRED.items():
        if key not in vol_t:
            hint = " (give 0 if there is none)" if key in ("imported", "exported") else ""
            raise InputError(f"missing key{hint}", file=file, field=f"volumes.{key}")
        items[key] = _item(vol_t[key], key, pct_key, file)
    for key, pct_key in _VOLUMES_DEFAULTABLE.items():
        items[key] = _item(vol_t[key], key, pct_key, file) if key in vol_t else None
    inputs = BalanceInputs(**items)

    costs = None
    if "costs" in doc:
        cost_t = _table(doc, "costs", file)
        _reject_unknown(cost_t, set(_COSTS_REQUIRED) | set(_COSTS_OPTIONAL), "costs", file)
        values: dict[str, Any] = {}
        for key in _COSTS_REQUIRED:
            if key not in cost_t:
                raise InputError("missing key", file=file, field=f"costs.{key}")
            values[key] = _number(cost_t[key], f"costs.{key}", file)
        for key in _COSTS_OPTIONAL:
            values[key] = (
                _number(cost_t[key], f"costs.{key}", file, positive=True) if key in cost_t else None
            )
        costs = Costs(**values)
    return Audit(system, inputs, costs, file)


def audit_json_schema() -> dict[str, Any]:
    """The JSON Schema of an audit document (what :func:`parse_audit` accepts), for the API's contract."""
    positive = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_FIGURE}
    amount = {"type": "number", "minimum": 0, "maximum": MAX_FIGURE}

    def table(required: Sequence[str], optional: Sequence[str], value: Any) -> dict[str, Any]:
        props = {k: value(k) for k in (*required, *optional)}
        return {
            "type": "object",
            "properties": props,
            "required": list(required),
            "additionalProperties": False,
        }

    def item(key: str) -> dict[str, Any]:
        pct_key = {**_VOLUMES_REQUIRED, **_VOLUMES_DEFAULTABLE}[key]
        detail = {
            "method": {"enum": list(METHODS)},
            "grade": {"type": "number", "minimum": 1, "maximum": 10},
            "margin_pct": amount,
        }
        value = amount
        if key == "customer_meter_under_registration_pct":  # % of true use, below 100
            value = {"type": "number", "minimum": 0, "exclusiveMaximum": 100}
        bounds = {"value": value, pct_key: {"type": "number", "minimum": 0, "maximum": 100}}
        keys = [k for k in ("value", pct_key) if k]
        shapes = [{"required": [k], "properties": {k: bounds[k]}} for k in keys]
        obj: dict[str, Any] = {
            "type": "object",
            "properties": {k: bounds[k] for k in keys} | detail,
            "additionalProperties": False,
            "oneOf" if len(shapes) > 1 else "allOf": shapes,
        }
        return {"anyOf": [value, obj]}

    system = table(
        _SYSTEM_REQUIRED,
        tuple(_SYSTEM_OPTIONAL),
        lambda k: amount if k == "private_pipe_length_km" else positive,
    )
    system["properties"]["supply_hours_per_day"] = {**positive, "maximum": 24}
    return {
        "type": "object",
        "properties": {
            "system": system,
            "volumes": table(tuple(_VOLUMES_REQUIRED), tuple(_VOLUMES_DEFAULTABLE), item),
            "costs": table(
                _COSTS_REQUIRED, _COSTS_OPTIONAL, lambda k: positive if k in _COSTS_OPTIONAL else amount
            ),
        },
        "required": ["system", "volumes"],
        "additionalProperties": False,
    }


def load_audit(path: str | Path) -> Audit:
    """Read and check an AUDIT.toml file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("audit file not found", file=p)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=p) from None
    return parse_audit(doc, p)


def run_audit(audit: Audit, scheme: str = "wbi_developing") -> AuditResult:
    """Compute the balance and indicators; errors are tagged with the audit file."""
    try:
        balance = compute_balance(audit.inputs, audit.system.days)
        kpis = compute_kpis(balance, audit.system, audit.costs, scheme)
    except InputError as exc:
        if exc.file is None and audit.path is not None:
            raise InputError(exc.message, file=audit.path, field=exc.field) from None
        raise
    return AuditResult(audit, balance, kpis)


def audit_report(result: AuditResult) -> dict[str, Any]:
    """One JSON-ready dict: the headline volumes (m³ over the period), indicators and every component."""
    b, s = result.balance, result.audit.system
    out: dict[str, Any] = {
        name: b.components()[name].value
        for name in (
            "system_input_volume",
            "water_supplied",
            "billed_authorised",
            "unbilled_authorised",
            "authorised_consumption",
            "water_losses",
            "unauthorised_consumption",
            "customer_meter_inaccuracies",
            "data_handling_errors",
            "apparent_losses",
            "real_losses",
            "non_revenue_water",
        )
    }
    out.update(kpis_to_dict(result.kpis))
    out["kpi_warnings"] = kpi_warnings(out.get("nrw_pct"), out.get("real_losses"), out.get("ili"))
    out["period_days"] = b.period_days
    out["customer_meter_under_registration_pct"] = b.customer_meter_under_registration_pct
    out["system"] = {**s.__dict__, "connection_density_per_km": s.connection_density_per_km}
    out["components"] = {name: c.to_dict() for name, c in b.components().items()}
    if result.audit.path is not None:
        out["audit"] = str(result.audit.path)
    return out


def audit_template() -> str:
    """A commented AUDIT.toml naming every key, its unit and its options; it parses as it is."""
    return files("tirta").joinpath("data/templates/audit.toml").read_text(encoding="utf-8")
