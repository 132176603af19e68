"""The sensor registry: which sensors exist, what they measure, where they sit, what is plausible.

Read from CSV, TOML or JSON, including the BattLeDIM ``sensors.json`` shape (lists of pressure,
flow and level sensors and AMR meters). Valid ranges are held in SI units.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tirta.errors import InputError, UnitError
from tirta.network.model import Network
from tirta.units import parse_unit

__all__ = [
    "KINDS",
    "Sensor",
    "SensorRegistry",
    "battledim_sensor_id",
    "load_sensors",
    "sensors_beside",
]

# kind -> (quantity, default unit as received, default valid range in SI, element: node|link)
KINDS: dict[str, tuple[str, str, tuple[float, float], str]] = {
    "dissolved_oxygen": ("concentration", "mg/L", (0.0, 0.02), "node"),  # aeration basin DO (plants)
    "pressure": ("pressure", "m", (-20.0, 250.0), "node"),
    "flow": ("flow", "m3/h", (-10.0, 10.0), "link"),
    "level": ("level", "m", (-1.0, 100.0), "node"),
    "demand": ("flow", "L/h", (0.0, 1.0), "node"),  # AMR customer meter, a node's consumption
    # landfill-gas engines (tirta.waste): gas flow to the engine, methane fraction, electric output
    "gas_flow": ("flow", "m3/h", (0.0, 10.0), "node"),
    "methane": ("dimensionless", "%", (0.0, 1.0), "node"),
    "power": ("power", "kW", (0.0, 1e8), "node"),
}
_KIND_ALIASES = {"amr": "demand", "meter": "demand", "amrs": "demand", "head": "pressure"}
_BATTLEDIM_KEYS = {
    "pressure_sensors": "pressure",
    "flow_sensors": "flow",
    "level_sensors": "level",
    "amrs": "demand",
}


def battledim_sensor_id(kind: str, column: str) -> str:
    """Registry id of a BattLeDIM column: the element id, ``amr_<node>`` for AMR meters.

    AMR meters sit on nodes that may also carry a pressure sensor, so they get a prefix.
    """
    return f"amr_{column}" if kind == "demand" else column


@dataclass(frozen=True)
class Sensor:
    """One sensor: what it measures (kind), where (node or link), its unit and valid SI range."""

    id: str
    kind: str
    unit: str
    node: str | None = None
    link: str | None = None
    valid_min: float = float("-inf")
    valid_max: float = float("inf")
    dma: str | None = None
    installed: datetime | None = None
    cumulative: bool = False  # a register (totaliser) rather than an instantaneous value

    @property
    def quantity(self) -> str:
        return KINDS[self.kind][0]

    @property
    def element(self) -> str:
        """The node or link id the sensor is attached to."""
        return self.node if self.node is not None else (self.link or "")

    def to_si(self, value: float) -> float:
        """Convert a value as received to SI."""
        return value * parse_unit(self.unit, self.quantity).factor


@dataclass
class SensorRegistry:
    """An ordered set of sensors keyed by id."""

    sensors: dict[str, Sensor] = field(default_factory=dict)
    source: str | None = None

    def __iter__(self) -> Iterator[Sensor]:
        return iter(self.sensors.values())

    def __len__(self) -> int:
        return len(self.sensors)

    def __contains__(self, sensor_id: object) -> bool:
        return sensor_id in self.sensors

    def __getitem__(self, sensor_id: str) -> Sensor:
        return self.sensors[sensor_id]

    def add(self, sensor: Sensor) -> None:
        if sensor.id in self.sensors:
            raise InputError(f"duplicate sensor id '{sensor.id}'", file=self.source, field="id")
        self.sensors[sensor.id] = sensor

    def by_kind(self, kind: str) -> list[Sensor]:
        return [s for s in self.sensors.values() if s.kind == kind]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sensors.values():
            out[s.kind] = out.get(s.kind, 0) + 1
        return out

    def to_battledim(self) -> dict[str, list[str]]:
        """The BattLeDIM ``sensors.json`` shape: element ids per kind."""
        return {key: [s.element for s in self.by_kind(kind)] for key, kind in _BATTLEDIM_KEYS.items()}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.__dict__ for s in self.sensors.values()])

    def check_against(self, network: Network, text: str | None = None) -> None:
        """Raise :class:`InputError` naming the sensor file and line if a node or link is unknown."""
        nodes, links = set(network.nodes.index), set(network.links.index)
        for s in self.sensors.values():
            if s.node is not None and s.node not in nodes:
                raise InputError(
                    f"sensor '{s.id}' is on unknown node '{s.node}' (not in {network.path.name})",
                    file=self.source,
                    line=_line_of(text, s.node),
                    field="node",
                )
            if s.link is not None and s.link not in links:
                raise InputError(
                    f"sensor '{s.id}' is on unknown link '{s.link}' (not in {network.path.name})",
                    file=self.source,
                    line=_line_of(text, s.link),
                    field="link",
                )

    def with_dmas(self, node_to_dma: Mapping[str, str]) -> SensorRegistry:
        """A copy with each node sensor's DMA filled in from a node → DMA map."""
        out = SensorRegistry(source=self.source)
        for s in self.sensors.values():
            dma = s.dma or (node_to_dma.get(s.node) if s.node else None)
            out.add(replace(s, dma=dma))
        return out


def _line_of(text: str | None, token: str) -> int | None:
    if text is None:
        return None
    pattern = re.compile(rf"(?<![\w.-]){re.escape(token)}(?![\w.-])")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return lineno
    return None


def make_sensor(
    record: Mapping[str, Any], *, file: str | None = None, line: int | None = None
) -> Sensor:
    """Build a :class:`Sensor` from a plain record (CSV row, TOML table, JSON object)."""

    def fail(msg: str, fld: str) -> InputError:
        return InputError(msg, file=file, line=line, field=fld)

    sid = str(record.get("id") or "").strip()
    if not sid:
        raise fail("sensor id missing", "id")
    raw_kind = str(record.get("kind") or "").strip().lower()
    kind = _KIND_ALIASES.get(raw_kind, raw_kind)
    if kind not in KINDS:
        raise fail(f"unknown sensor kind '{raw_kind}'; expected one of {sorted(KINDS)}", "kind")
    quantity, default_unit, (lo, hi), element = KINDS[kind]
    unit = str(record.get("unit") or default_unit).strip()
    try:
        parse_unit(unit, quantity)
    except UnitError as exc:
        raise UnitError(exc.message, file=file, line=line, field="unit") from None
    node = _opt(record.get("node"))
    link = _opt(record.get("link"))
    if node is None and link is None:
        if element == "node":
            node = sid
        else:
            link = sid
    vmin = _number(record.get("min", record.get("valid_min")), lo, fail, "min")
    vmax = _number(record.get("max", record.get("valid_max")), hi, fail, "max")
    if vmin >= vmax:
        raise fail(f"valid range is empty: min {vmin} >= max {vmax}", "min")
    installed = _opt(record.get("installed"))
    when = None
    if installed is not None:
        try:
            when = pd.Timestamp(installed).to_pydatetime()
        except (ValueError, TypeError):
            raise fail(f"cannot parse installation date '{installed}'", "installed") from None
    cumulative = str(record.get("cumulative", "false")).strip().lower() in ("1", "true", "yes")
    return Sensor(sid, kind, unit, node, link, vmin, vmax, _opt(record.get("dma")), when, cumulative)


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any, default: float, fail: Any, fld: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise fail(f"expected a number, got '{value}'", fld) from None


def registry_from_battledim(
    spec: Mapping[str, Iterable[str]], source: str | None = None
) -> SensorRegistry:
    """Registry from the BattLeDIM shape ``{"pressure_sensors": [...], "amrs": [...], ...}``."""
    reg = SensorRegistry(source=source)
    for key, kind in _BATTLEDIM_KEYS.items():
        for element in spec.get(key, []):
            element = str(element)
            record: dict[str, Any] = {"id": battledim_sensor_id(kind, element), "kind": kind}
            record["node" if KINDS[kind][3] == "node" else "link"] = element
            reg.add(make_sensor(record, file=source))
    return reg


def load_sensors(path: str | Path, network: Network | None = None) -> SensorRegistry:
    """Load a sensor registry from ``.json``, ``.toml`` or ``.csv``; check it against ``network``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read sensor file: {exc.strerror}", file=p) from exc
    suffix = p.suffix.lower()
    source = str(p)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", file=p, line=exc.lineno) from None
        reg = _from_mapping(data, source, text)
    elif suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"invalid TOML: {exc}", file=p) from None
        reg = _from_mapping(data, source, text)
    elif suffix == ".csv":
        reg = SensorRegistry(source=source)
        rows = csv.DictReader(text.splitlines())
        if rows.fieldnames is None or "id" not in rows.fieldnames:
            raise InputError("CSV header must name at least 'id' and 'kind'", file=p, line=1)
        for lineno, row in enumerate(rows, start=2):
            reg.add(make_sensor(row, file=source, line=lineno))
    else:
        raise InputError(f"unknown sensor file type '{suffix}'; expected .json, .toml or .csv", file=p)
    if network is not None:
        reg.check_against(network, text)
    return reg


def _from_mapping(data: Any, source: str, text: str) -> SensorRegistry:
    if isinstance(data, Mapping) and any(k in data for k in _BATTLEDIM_KEYS):
        for key in _BATTLEDIM_KEYS:
            value = data.get(key, [])
            if not isinstance(value, list):
                raise InputError(
                    "expected a list of element ids",
                    file=source,
                    line=_line_of(text, f'"{key}"'),
                    field=key,
                )
        return registry_from_battledim(data, source)
    records = data.get("sensors", data.get("sensor")) if isinstance(data, Mapping) else data
    if not isinstance(records, list):
        raise InputError(
            "expected a list of sensors under 'sensors' (or [[sensor]] tables), or the BattLeDIM "
            "keys pressure_sensors/flow_sensors/level_sensors/amrs",
            file=source,
        )
    reg = SensorRegistry(source=source)
    for rec in records:
        if not isinstance(rec, Mapping):
            raise InputError("each sensor must be an object/table", file=source)
        reg.add(make_sensor(rec, file=source, line=_line_of(text, str(rec.get("id", "")))))
    return reg


def sensors_beside(model: Path) -> Path | None:
    """The sensor file that sits beside a model: ``<stem>.sensors.json``, else ``sensors.json``."""
    for candidate in (model.with_name(f"{model.stem}.sensors.json"), model.with_name("sensors.json")):
        if candidate.is_file():
            return candidate
    return None
