"""Peer benchmarking: KPI sets of several utilities and years side by side, with the same definitions.

Sources are KPI JSON files (``tirta kpis compute --json`` of any tirta instance) or an IBNET-style CSV
(one row per utility and period; columns are input variables of reference §3, or indicator ids). Where a
source carries its inputs, the indicators are recomputed here with tirta's definitions. Money indicators
are converted to US$ at each period's average rate ``fx_usd`` (the rate used is published in the table).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tirta.errors import InputError
from tirta.kpis.bands import classify
from tirta.kpis.compute import compute_kpis, display_value
from tirta.kpis.definitions import INDICATORS, INPUT_VARIABLES, indicator
from tirta.kpis.utility import parse_utility

__all__ = ["Comparison", "compare", "load_peers"]


def _label(s: Mapping[str, Any]) -> str:
    return f"{s['utility']} {s['from']}–{s['to']}"


def _check_set(doc: Any, file: Path) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise InputError("expected a KPI object from `tirta kpis compute --json`", file=file)
    for key in ("utility", "from", "to", "indicators"):
        if key not in doc:
            raise InputError("missing key", file=file, field=key)
    if not isinstance(doc["indicators"], Mapping):
        raise InputError("expected an object of indicators", file=file, field="indicators")
    for kid, ind in doc["indicators"].items():
        value = ind.get("value") if isinstance(ind, Mapping) else "?"
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(
                f"expected a number or null, got {value!r}", file=file, field=f"indicators.{kid}.value"
            )
    return dict(doc)


def _recompute(doc: Mapping[str, Any], file: Path, line: int | None = None) -> dict[str, Any]:
    """The KPI set of a source's inputs, computed with tirta's definitions."""
    fields = {k: v for k, v in doc.items() if k in ("utility", "from", "to", "currency", "licence")}
    grades = (doc.get("data_validity") or {}).get("grades")
    if grades:
        fields["grades"] = grades
    try:
        inputs = parse_utility({**fields, **doc["inputs"]}, file)
    except InputError as exc:
        raise InputError(exc.message, file=file, line=line, field=exc.field) from None
    out = compute_kpis(inputs).to_dict()
    out["source"] = "recomputed from inputs"
    return out


def _load_json(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    docs = doc if isinstance(doc, list) else [doc]
    out = []
    for d in docs:
        d = _check_set(d, path)
        if isinstance(d.get("inputs"), Mapping) and d["inputs"]:
            out.append(_recompute(d, path))
        else:
            out.append({**d, "source": "as published"})
    return out


def _csv_number(text: str, file: Path, line: int, col: str) -> float | None:
    text = text.strip().replace(",", "")
    if text == "":
        return None  # blank: unknown, never 0
    try:
        return float(text)
    except ValueError:
        raise InputError(f"expected a number, got {text!r}", file=file, line=line, field=col) from None


def _load_csv(path: Path) -> list[dict[str, Any]]:
    ids = {i.id for i in INDICATORS}
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "utility" not in cols or not ({"year"} <= set(cols) or {"from", "to"} <= set(cols)):
            raise InputError(
                "the header needs 'utility' and 'year' (or 'from' and 'to')", file=path, line=1
            )
        extra = [
            c
            for c in cols
            if c not in ids
            and c not in INPUT_VARIABLES
            and c not in ("utility", "year", "from", "to", "currency", "licence")
        ]
        if extra:
            raise InputError(
                "unknown column; expected input variables or indicator ids",
                file=path,
                line=1,
                field=extra[0],
            )
        for row in reader:
            line = reader.line_num
            head: dict[str, Any] = {"utility": row["utility"], "currency": row.get("currency") or None}
            if "year" in cols and row.get("year"):
                year = int(_csv_number(row["year"], path, line, "year") or 0)
                head["from"], head["to"] = date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat()
            else:
                head["from"], head["to"] = row["from"], row["to"]
            inputs = {c: _csv_number(row[c], path, line, c) for c in cols if c in INPUT_VARIABLES}
            inputs = {k: v for k, v in inputs.items() if v is not None}
            given = {c: _csv_number(row[c], path, line, c) for c in cols if c in ids}
            if inputs:
                doc = _recompute({**head, "inputs": inputs}, path, line)
            else:
                days = _recompute({**head, "inputs": {}}, path, line)["days"]  # checks the dates
                doc = {**head, "days": days, "fx_usd": None, "source": "as published", "indicators": {}}
            for kid, value in given.items():  # published values fill what the inputs cannot give
                if value is not None and doc["indicators"].get(kid, {}).get("value") is None:
                    ind = indicator(kid)
                    doc["indicators"][kid] = {
                        "name": ind.name,
                        "value": value,
                        "unit": ind.unit,
                        "flags": ["as_published"],
                        "reason": None,
                    }
            out.append(doc)
    return out


def load_peers(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """KPI sets (JSON shape of ``tirta kpis compute --json``) from JSON files and IBNET-style CSVs."""
    sets: list[dict[str, Any]] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_file():
            raise InputError("file not found", file=p)
        sets += _load_csv(p) if p.suffix.lower() == ".csv" else _load_json(p)
    if not sets:
        raise InputError("no KPI sets to compare")
    return sets


@dataclass(frozen=True)
class Comparison:
    """Indicators (rows) by utility and period (columns); money in US$ at each column's rate."""

    columns: list[dict[str, Any]]  # utility, from, to, label, currency, fx_usd, source
    rows: list[dict[str, Any]]  # id, name, unit, cells: [{value, display, flags, reason, bands}]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows}


def _cell(ind_id: str, doc: Mapping[str, Any], fx: float | None) -> dict[str, Any]:
    got = doc["indicators"].get(ind_id)
    if got is None:
        return {
            "value": None,
            "display": None,
            "flags": ["not_reported"],
            "reason": "not in this source",
            "bands": [],
        }
    value, flags, reason = got.get("value"), list(got.get("flags") or []), got.get("reason")
    known = {i.id: i for i in INDICATORS}.get(ind_id)
    if known is not None and known.money and value is not None:
        if fx:
            value = value / fx
        else:
            value, reason = None, "no fx_usd rate given for this period"
            flags.append("no_rate")
    cap = known.cap if known else None
    bands = (
        []
        if known and known.money
        else [{"scheme": b.scheme, "label": b.label} for b in classify(ind_id, value)]
    )
    shown = display_value(value, cap) if value is not None and math.isfinite(value) else None
    return {"value": value, "display": shown, "flags": flags, "reason": reason, "bands": bands}


def compare(sets: Sequence[Mapping[str, Any]], fx: Mapping[str, float] | None = None) -> Comparison:
    """Side-by-side table of the sets; ``fx`` (utility name → LCU per US$) overrides a set's own rate."""
    fx = dict(fx or {})
    ordered = sorted(sets, key=lambda s: (str(s["utility"]), str(s["from"])))
    columns = []
    rates: list[float | None] = []
    for s in ordered:
        rate = fx.get(str(s["utility"]), s.get("fx_usd"))
        rates.append(rate)
        columns.append(
            {
                "utility": s["utility"],
                "from": s["from"],
                "to": s["to"],
                "label": _label(s),
                "currency": s.get("currency"),
                "fx_usd": rate,
                "source": s.get("source"),
                "data_validity": (s.get("data_validity") or {}).get("score"),
            }
        )
    ids = [i.id for i in INDICATORS]
    ids += sorted({k for s in ordered for k in s["indicators"] if k not in ids})
    rows = []
    for kid in ids:
        known = {i.id: i for i in INDICATORS}.get(kid)
        first: Mapping[str, Any] = next(
            (s["indicators"][kid] for s in ordered if kid in s["indicators"]), {}
        )
        unit = known.unit if known else first.get("unit", "")
        if known is not None and known.money:
            unit = unit.replace("LCU", "US$")
        rows.append(
            {
                "id": kid,
                "name": known.name if known else first.get("name", kid),
                "unit": unit,
                "money": bool(known and known.money),
                "formula": known.formula_text if known else "",
                "cells": [_cell(kid, s, r) for s, r in zip(ordered, rates, strict=True)],
            }
        )
    return Comparison(columns, rows)
