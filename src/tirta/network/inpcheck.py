"""Check an EPANET ``.inp`` file line by line before loading it, so errors name file, line and field.

wntr and the EPANET toolkit report malformed input without a line number; this pass does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tirta.errors import InputError

__all__ = ["InpSummary", "check_inp", "normalise_for_wntr", "read_inp_text"]

# section -> (minimum number of fields, {field index: (field name, rule)})
# rules: "num" any number, "pos" > 0, "nonneg" >= 0
_SECTIONS: dict[str, tuple[int, dict[int, tuple[str, str]]]] = {
    "JUNCTIONS": (2, {1: ("Elevation", "num"), 2: ("Demand", "num")}),
    "RESERVOIRS": (2, {1: ("Head", "num")}),
    "TANKS": (
        7,
        {
            1: ("Elevation", "num"),
            2: ("InitLevel", "nonneg"),
            3: ("MinLevel", "nonneg"),
            4: ("MaxLevel", "nonneg"),
            5: ("Diameter", "nonneg"),
            6: ("MinVol", "nonneg"),
        },
    ),
    "PIPES": (
        6,
        {
            3: ("Length", "nonneg"),
            4: ("Diameter", "pos"),
            5: ("Roughness", "pos"),
            6: ("MinorLoss", "nonneg"),
        },
    ),
    "PUMPS": (4, {}),
    "VALVES": (6, {3: ("Diameter", "pos")}),
    "COORDINATES": (3, {1: ("X-Coord", "num"), 2: ("Y-Coord", "num")}),
    "VERTICES": (3, {1: ("X-Coord", "num"), 2: ("Y-Coord", "num")}),
    "DEMANDS": (2, {1: ("Demand", "num")}),
    "EMITTERS": (2, {1: ("Coefficient", "nonneg")}),
    "PATTERNS": (2, {}),
    "CURVES": (3, {1: ("X-Value", "num"), 2: ("Y-Value", "num")}),
}
_NODE_SECTIONS = ("JUNCTIONS", "RESERVOIRS", "TANKS")
_LINK_SECTIONS = ("PIPES", "PUMPS", "VALVES")


@dataclass
class InpSummary:
    """What the check learnt: element ids in file order, sections present, and their lines."""

    nodes: dict[str, int]
    links: dict[str, int]
    sections: set[str]
    coordinates: set[str]
    patterns: set[str]
    pattern_refs: dict[str, list[tuple[int, str]]]
    notes: list[str] = field(default_factory=list)  # what was normalised to load the model


def read_inp_text(path: Path) -> str:
    """Read an .inp as UTF-8, falling back to Latin-1 (old EPANET GUIs write ANSI files)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read network file: {exc.strerror}", file=path) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _check_number(path: Path, lineno: int, section: str, name: str, rule: str, tok: str) -> None:
    try:
        value = float(tok)
    except ValueError:
        raise InputError(
            f"[{section}] expected a number, got '{tok}'", file=path, line=lineno, field=name
        ) from None
    if rule == "pos" and not value > 0:
        raise InputError(f"[{section}] must be positive, got {tok}", file=path, line=lineno, field=name)
    if rule == "nonneg" and value < 0:
        raise InputError(
            f"[{section}] must not be negative, got {tok}", file=path, line=lineno, field=name
        )


def check_inp(path: Path, text: str | None = None) -> InpSummary:
    """Raise :class:`InputError` at the first malformed line of an EPANET input file."""
    text = read_inp_text(path) if text is None else text
    section = ""
    nodes: dict[str, int] = {}
    links: dict[str, int] = {}
    ends: list[tuple[int, str, str, str]] = []
    sections: set[str] = set()
    coords: set[str] = set()
    patterns: set[str] = set()
    refs: dict[str, list[tuple[int, str]]] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(f"malformed section header '{line}'", file=path, line=lineno)
            section = line[1:-1].strip().upper()
            sections.add(section)
            continue
        if not section:
            raise InputError("data before the first [SECTION] header", file=path, line=lineno)
        rule = _SECTIONS.get(section)
        if rule is None:
            continue
        toks = line.split()
        if section == "PIPES" and len(toks) == 7 and toks[6].upper() in ("OPEN", "CLOSED", "CV"):
            toks = [*toks[:6], "0", toks[6]]
        minimum, fields = rule
        if len(toks) < minimum:
            raise InputError(
                f"[{section}] expected at least {minimum} fields, got {len(toks)}",
                file=path,
                line=lineno,
            )
        for idx, (name, kind) in fields.items():
            if idx < len(toks):
                if section == "PIPES" and idx == 6 and toks[6].upper() in ("OPEN", "CLOSED", "CV"):
                    continue
                _check_number(path, lineno, section, name, kind, toks[idx])
        if section in _NODE_SECTIONS:
            if toks[0] in nodes:
                raise InputError(f"duplicate node id '{toks[0]}'", file=path, line=lineno, field="ID")
            nodes[toks[0]] = lineno
        elif section in _LINK_SECTIONS:
            if toks[0] in links:
                raise InputError(f"duplicate link id '{toks[0]}'", file=path, line=lineno, field="ID")
            links[toks[0]] = lineno
            ends.append((lineno, section, toks[1], toks[2]))
        elif section == "COORDINATES":
            coords.add(toks[0])
        elif section == "PATTERNS":
            patterns.add(toks[0])
        pattern_at = {"JUNCTIONS": 3, "DEMANDS": 2, "RESERVOIRS": 2}.get(section)
        if pattern_at is not None and len(toks) > pattern_at:
            refs.setdefault(toks[pattern_at], []).append((lineno, toks[0]))
    if not nodes:
        raise InputError("no [JUNCTIONS], [RESERVOIRS] or [TANKS] found", file=path)
    for lineno, sec, start, end in ends:
        for name, node in (("Node1", start), ("Node2", end)):
            if node not in nodes:
                raise InputError(
                    f"[{sec}] refers to unknown node '{node}'", file=path, line=lineno, field=name
                )
    return InpSummary(nodes, links, sections, coords, patterns, refs)


_CLOCK = re.compile(r"(?<![\w:.])(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?\s*(AM|PM)(?!\w)", re.IGNORECASE)


def _clock24(match: re.Match[str]) -> str:
    """``6 AM`` → ``06:00:00``, ``8:30 PM`` → ``20:30:00`` (what EPANET means by them)."""
    hour = int(match.group(1)) % 12 + (12 if match.group(4).upper() == "PM" else 0)
    return f"{hour:02d}:{int(match.group(2) or 0):02d}:{int(match.group(3) or 0):02d}"


def normalise_for_wntr(text: str) -> tuple[str, list[str]]:
    """Rewrite what EPANET reads but wntr's reader refuses, keeping the meaning; with notes.

    Clock times written ``6 AM`` in [CONTROLS]/[RULES] become ``06:00:00``; an [OPTIONS] default
    PATTERN that names no pattern is dropped (EPANET then uses none); an unknown chemical unit in
    QUALITY is dropped (tirta does not model water quality). Line numbers are kept.
    """
    lines = text.splitlines()
    patterns = set()
    section = ""
    for raw in lines:
        body = raw.split(";", 1)[0].strip()
        if body.startswith("["):
            section = body.upper()
        elif section == "[PATTERNS]" and body:
            patterns.add(body.split()[0].upper())
    notes: list[str] = []
    out: list[str] = []
    section = ""
    for lineno, raw in enumerate(lines, start=1):
        body, sep, comment = raw.partition(";")
        stripped = body.strip()
        if stripped.startswith("["):
            section = stripped.upper()
        toks = stripped.split()
        new = body
        if section in ("[CONTROLS]", "[RULES]") and _CLOCK.search(body):
            new = _CLOCK.sub(_clock24, body)
            notes.append(f"line {lineno}: clock time in 24-hour form for wntr")
        elif section == "[OPTIONS]" and len(toks) >= 2 and toks[0].upper() == "PATTERN":
            if toks[1].upper() not in patterns and toks[1] != "1":  # wntr knows EPANET's "1"
                new = ""
                notes.append(f"line {lineno}: default pattern '{toks[1]}' is not defined: none used")
        elif section == "[OPTIONS]" and len(toks) == 3 and toks[0].upper() == "QUALITY":
            unit = toks[2].lower()
            known = toks[1].upper() in ("NONE", "AGE", "TRACE") or "mg" in unit or "ug" in unit
            if not known:
                new = f"{toks[0]} {toks[1]}"
                notes.append(f"line {lineno}: chemical unit '{toks[2]}' ignored (mg/L)")
        out.append(new + (sep + comment if sep else ""))
    if not notes:
        return text, []
    return "\n".join(out) + "\n", notes
