"""The plant registry: each treatment plant's design capacity, process, permit and telemetry sensors.

Read from a TOML file of ``[[plant]]`` tables (configuration is data a utility edits). Design figures are
held in SI (m³/s, kg/s); the file speaks the plant engineer's units (m³/d, kg/d).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tirta.errors import InputError
from tirta.wastewater.standards import DEFAULT_STANDARD

__all__ = ["KPI_DEFAULTS_FILE", "ROLES", "Plant", "kpi_defaults", "load_plants"]

KPI_DEFAULTS_FILE: Final = (
    Path(__file__).resolve().parent.parent / "data" / "standards" / "wastewater_kpis.toml"
)
#: telemetry roles a plant maps to sensor ids: role -> (sensor kind, unit as stored in SI)
ROLES: Final[dict[str, tuple[str, str]]] = {
    "influent_flow": ("flow", "m3/s"),
    "power": ("power", "W"),
    "biogas": ("gas_flow", "m3/s"),
    "sludge": ("flow", "m3/s"),
    "dissolved_oxygen": ("dissolved_oxygen", "kg/m3"),
}
_DAY: Final = 86400.0


def kpi_defaults() -> dict[str, float]:
    """The shipped KPI constants (p.e. definition, methane LHV, CHP efficiencies …), sources in the file."""
    with KPI_DEFAULTS_FILE.open("rb") as fh:
        return {k: float(v) for k, v in tomllib.load(fh).items()}


@dataclass(frozen=True)
class Plant:
    """One treatment plant: design flow (m³/s), design BOD and COD loads (kg/s), p.e., process, standard."""

    id: str
    name: str
    design_flow_m3s: float
    design_bod_kg_s: float
    design_cod_kg_s: float | None = None
    population_equivalent: float | None = None
    process: str = "activated sludge"
    standard: str = DEFAULT_STANDARD
    sensors: dict[str, str] = field(default_factory=dict)  # role -> sensor id in the store
    lab_file: Path | None = None  # the plant's lab results (CSV), relative paths from the registry file
    constants: dict[str, float] = field(
        default_factory=dict
    )  # KPI constants, shipped defaults overridden

    @property
    def design_flow_m3d(self) -> float:
        return self.design_flow_m3s * _DAY

    @property
    def design_bod_kg_d(self) -> float:
        return self.design_bod_kg_s * _DAY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view in the plant engineer's units."""
        return {
            "id": self.id,
            "name": self.name,
            "design_flow_m3_d": round(self.design_flow_m3d, 3),
            "design_bod_kg_d": round(self.design_bod_kg_d, 3),
            "design_cod_kg_d": None
            if self.design_cod_kg_s is None
            else round(self.design_cod_kg_s * _DAY, 3),
            "population_equivalent": self.population_equivalent,
            "process": self.process,
            "standard": self.standard,
            "sensors": dict(self.sensors),
        }


def _number(entry: dict[str, Any], key: str, path: Path, line: str, *, required: bool) -> float | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise InputError(f"plant {line}: missing", file=path, field=key)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InputError(f"plant {line}: '{value}' is not a positive number", file=path, field=key)
    return float(value)


def load_plants(path: str | Path) -> dict[str, Plant]:
    """Plants of a TOML registry (``[[plant]]`` with id, design_flow_m3_d, design_bod_kg_d …) by id."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("plant registry not found", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=path) from None
    entries = data.get("plant")
    if not isinstance(entries, list) or not entries:
        raise InputError("no [[plant]] tables", file=path, field="plant")
    defaults = kpi_defaults()
    plants: dict[str, Plant] = {}
    for entry in entries:
        pid = str(entry.get("id", "")).strip()
        if not pid or pid in plants:
            raise InputError(f"plant id '{pid}' missing or repeated", file=path, field="id")
        flow = _number(entry, "design_flow_m3_d", path, pid, required=True)
        bod = _number(entry, "design_bod_kg_d", path, pid, required=True)
        cod = _number(entry, "design_cod_kg_d", path, pid, required=False)
        sensors = entry.get("sensors", {})
        unknown = sorted(set(sensors) - set(ROLES))
        if unknown:
            raise InputError(
                f"plant {pid}: unknown sensor role '{unknown[0]}'; expected {', '.join(ROLES)}",
                file=path,
                field=f"sensors.{unknown[0]}",
            )
        constants = dict(defaults)
        for key, value in entry.get("constants", {}).items():
            if key not in defaults:
                raise InputError(f"plant {pid}: unknown constant", file=path, field=f"constants.{key}")
            constants[key] = float(value)
        plants[pid] = Plant(
            id=pid,
            name=str(entry.get("name", pid)),
            design_flow_m3s=float(flow or 0.0) / _DAY,
            design_bod_kg_s=float(bod or 0.0) / _DAY,
            design_cod_kg_s=None if cod is None else cod / _DAY,
            population_equivalent=_number(entry, "population_equivalent", path, pid, required=False),
            process=str(entry.get("process", "activated sludge")),
            standard=str(entry.get("standard", DEFAULT_STANDARD)),
            sensors={str(k): str(v) for k, v in sensors.items()},
            constants=constants,
            lab_file=(path.parent / str(entry["lab"])) if entry.get("lab") else None,
        )
    return plants
