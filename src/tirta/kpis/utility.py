"""Read a utility's period inputs (UTILITY.toml): name, ``from``/``to`` dates and the input variables.

Every value is checked: a string where a number goes, a negative volume, ``to`` before ``from`` or an unknown
key raise InputError naming the file, the line of the key and the field. A blank (absent) input means
unknown, never 0 (IBNET data-entry rule).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tirta.errors import InputError
from tirta.kpis.definitions import INPUT_VARIABLES

__all__ = ["UtilityInputs", "load_utility", "parse_utility"]

_TEXT_KEYS = ("utility", "currency", "licence", "notes")
_SECTIONS = ("grades", "supply_zones")


@dataclass(frozen=True)
class UtilityInputs:
    """A utility's inputs for one period (dates inclusive); money in its local currency units (LCU)."""

    utility: str
    start: date
    end: date
    values: dict[str, float]
    grades: dict[str, float] = field(default_factory=dict)  # data-validity grade 1–10 per input
    currency: str | None = None
    licence: str | None = None
    path: Path | None = None

    @property
    def days(self) -> int:
        """Days in the period, both ends included."""
        return (self.end - self.start).days + 1


def _key_line(text: str | None, key: str, section: str | None = None) -> int | None:
    """Line (1-based) of ``key = …`` in ``[section]`` (None: top level) of a TOML text."""
    if text is None:
        return None
    current: str | None = None
    pattern = re.compile(rf'^\s*("{re.escape(key)}"|{re.escape(key)})\s*=')
    for n, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            continue
        if current == section and pattern.match(line):
            return n
    return None


class _Reader:
    """Checks values of one document, reporting the file and line of the key at fault."""

    def __init__(self, file: Path | None, text: str | None) -> None:
        self.file, self.text = file, text

    def error(self, message: str, key: str, section: str | None = None) -> InputError:
        fld = f"{section}.{key}" if section else key
        return InputError(message, file=self.file, line=_key_line(self.text, key, section), field=fld)

    def number(self, value: Any, key: str, section: str | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"expected a number, got {value!r}", key, section)
        if not math.isfinite(value):
            raise self.error(f"expected a finite number, got {value!r}", key, section)
        if value < 0:
            raise self.error(f"must not be negative, got {value:g}", key, section)
        return float(value)

    def day(self, value: Any, key: str) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(f"expected a date (YYYY-MM-DD), got {value!r}", key)


def parse_utility(
    doc: Mapping[str, Any], file: Path | None = None, text: str | None = None
) -> UtilityInputs:
    """A :class:`UtilityInputs` from a parsed TOML document; ``text`` (the file's text) gives line numbers."""
    r = _Reader(file, text)
    known = {"from", "to", *_TEXT_KEYS, *_SECTIONS, *INPUT_VARIABLES}
    for key in doc:
        if key not in known:
            raise r.error(
                "unknown key; expected utility, from, to or an input variable of the reference §3", key
            )
    for key in ("utility", "from", "to"):
        if key not in doc:
            raise InputError("missing key", file=file, field=key)
    texts: dict[str, str | None] = {}
    for key in _TEXT_KEYS:
        value = doc.get(key)
        if value is not None and (
            not isinstance(value, str) or (key == "utility" and not value.strip())
        ):
            raise r.error(f"expected a non-empty text, got {value!r}", key)
        texts[key] = value
    start, end = r.day(doc["from"], "from"), r.day(doc["to"], "to")
    if end < start:
        raise r.error(f"'to' ({end}) is before 'from' ({start})", "to")
    values = {k: r.number(doc[k], k) for k in INPUT_VARIABLES if k in doc}
    if "hours_supply" in values and values["hours_supply"] > 24:
        raise r.error(f"must be at most 24 h/day, got {values['hours_supply']:g}", "hours_supply")
    if values.get("fx_usd") == 0:
        raise r.error("the exchange rate must be above 0", "fx_usd")
    grades: dict[str, float] = {}
    raw_grades = doc.get("grades", {})
    if not isinstance(raw_grades, Mapping):
        raise r.error("expected a table [grades] of input → grade 1–10", "grades")
    for key, value in raw_grades.items():
        if key not in INPUT_VARIABLES:
            raise r.error("unknown input variable", key, "grades")
        grade = r.number(value, key, "grades")
        if not 1 <= grade <= 10:
            raise r.error(f"grade must be within 1–10, got {grade:g}", key, "grades")
        grades[key] = grade
    zones = _supply_zones(r, doc.get("supply_zones"))
    if zones and "hours_supply" not in values:
        values["hours_supply"] = zones
    return UtilityInputs(
        utility=str(texts["utility"]),
        start=start,
        end=end,
        values=values,
        grades=grades,
        currency=texts["currency"],
        licence=texts["licence"],
        path=file,
    )


def _supply_zones(r: _Reader, raw: Any) -> float | None:
    """Hours of supply per day weighted by connections over ``[supply_zones]`` (IBNET 15.1; reference §2:
    Σ(conn_z·h_z)/Σconn_z), or None without zones. Each zone: ``name = {connections = n, hours = h}``."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise r.error("expected a table [supply_zones] of name = {connections, hours}", "supply_zones")
    total = weighted = 0.0
    for name, zone in raw.items():
        if not isinstance(zone, Mapping) or set(zone) != {"connections", "hours"}:
            raise r.error("expected {connections = n, hours = h}", name, "supply_zones")
        conns = r.number(zone["connections"], name, "supply_zones")
        hours = r.number(zone["hours"], name, "supply_zones")
        if hours > 24:
            raise r.error(f"hours must be at most 24, got {hours:g}", name, "supply_zones")
        total += conns
        weighted += conns * hours
    return weighted / total if total > 0 else None


def load_utility(path: str | Path) -> UtilityInputs:
    """Read and check a UTILITY.toml file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("utility file not found", file=p)
    text = p.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        match = re.search(r"line (\d+)", str(exc))
        if line is None and match:
            line = int(match.group(1))
        raise InputError(f"not valid TOML: {exc}", file=p, line=line) from None
    return parse_utility(doc, p, text)
