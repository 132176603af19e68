"""Pressure management what-ifs: new PRV settings or lower source heads, service compliance, FAVAD leakage.

Both days (as is, and with the change) are run pressure-driven on one open project; the leakage change
applies FAVAD (``tirta.balance.favad_leakage``, L1 = L0·(P1/P0)^N1) node by node to the day's average
pressure of every demand junction, leakage assumed spread in proportion to the junctions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tirta.balance.nightflow import favad_leakage
from tirta.errors import InputError
from tirta.hydraulics.engine import Engine
from tirta.hydraulics.scenarios import PDA
from tirta.network.model import Network
from tirta.planning.extension import DayRun, day_run

__all__ = ["PressureChange", "parse_setting", "pressure_management"]


@dataclass
class PressureChange:
    """Before/after of a pressure-management change over the design day; pressures m."""

    azp_before_m: float
    azp_after_m: float
    min_pressure_before_m: float
    min_pressure_after_m: float
    compliance_before_pct: float  # demand junctions at or above the service pressure all day
    compliance_after_pct: float
    nodes_below_min: list[str]
    leakage_change_pct: float
    n1: float
    service_pressure_m: float
    leakage_before_m3h: float | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "azp_before_m": round(self.azp_before_m, 3),
            "azp_after_m": round(self.azp_after_m, 3),
            "min_pressure_before_m": round(self.min_pressure_before_m, 3),
            "min_pressure_after_m": round(self.min_pressure_after_m, 3),
            "compliance_before_pct": round(self.compliance_before_pct, 2),
            "compliance_after_pct": round(self.compliance_after_pct, 2),
            "nodes_below_min": self.nodes_below_min,
            "leakage_change_pct": round(self.leakage_change_pct, 3),
            "n1": self.n1,
            "service_pressure_m": self.service_pressure_m,
        }
        if self.leakage_before_m3h is not None:
            out["leakage_before_m3h"] = self.leakage_before_m3h
            out["leakage_after_m3h"] = round(
                self.leakage_before_m3h * (1.0 + self.leakage_change_pct / 100.0), 4
            )
        return out


def parse_setting(text: str, field: str) -> tuple[str, float]:
    """``ID:VALUE_M`` (``--prv``, ``--source-head``) → (id, metres)."""
    name, sep, value = text.rpartition(":")
    try:
        metres = float(value)
    except ValueError:
        metres = math.nan
    if not sep or not name or not math.isfinite(metres):
        raise InputError(f"expected ID:METRES, got {text!r}", field=field)
    return name, metres


def _service_nodes(net: Network, run: DayRun) -> list[str]:
    demand = net.nodes["base_demand_m3s"]
    nodes = [n for n in run.pressure_m.columns if demand.get(n, 0.0) > 0]
    return nodes or list(run.pressure_m.columns)


def pressure_management(
    net: Network,
    prv_settings: Mapping[str, float] | None = None,
    source_heads: Mapping[str, float] | None = None,
    *,
    min_pressure_m: float = 10.0,
    n1: float = 1.0,
    leakage_m3h: float | None = None,
) -> PressureChange:
    """Apply PRV settings (m) and reservoir heads (m) and compare the day with the model as it is."""
    prv_settings, source_heads = dict(prv_settings or {}), dict(source_heads or {})
    if not prv_settings and not source_heads:
        raise InputError("give at least one --prv or --source-head change", field="prv")
    if not (math.isfinite(n1) and n1 > 0):
        raise InputError(f"must be positive, got {n1}", field="n1")
    pda = PDA(0.0, min_pressure_m, 0.5)
    with Engine(net) as engine:
        types = dict(zip(engine.link_ids, engine.link_types(), strict=True))
        for link, setting in prv_settings.items():
            if types.get(link) != "valve" or str(net.wn.get_link(link).valve_type) != "PRV":
                raise InputError(f"'{link}' is not a PRV of the network", field="prv")
            if setting < 0:
                raise InputError(f"PRV setting must not be negative, got {setting}", field="prv")
        reservoirs = set(net.wn.reservoir_name_list)
        for node in source_heads:
            if node not in reservoirs:
                raise InputError(f"'{node}' is not a reservoir of the network", field="source-head")
        before = day_run(engine, pda)
        for link, setting in prv_settings.items():
            engine.set_valve_setting(link, setting)
        for node, head in source_heads.items():
            engine.set_reservoir_head(node, head)
        after = day_run(engine, pda)
    nodes = _service_nodes(net, before)
    p0, p1 = before.pressure_m[nodes], after.pressure_m[nodes]
    azp0, azp1 = p0.mean(axis=0), p1.mean(axis=0)
    ratios = [
        favad_leakage(1.0, float(a), max(float(b), 0.0), n1)
        for a, b in zip(azp0, azp1, strict=True)
        if a > 0
    ]
    return PressureChange(
        azp_before_m=float(azp0.mean()),
        azp_after_m=float(azp1.mean()),
        min_pressure_before_m=float(p0.min().min()),
        min_pressure_after_m=float(p1.min().min()),
        compliance_before_pct=100.0 * float((p0.min(axis=0) >= min_pressure_m).mean()),
        compliance_after_pct=100.0 * float((p1.min(axis=0) >= min_pressure_m).mean()),
        nodes_below_min=[str(n) for n in p1.columns[p1.min(axis=0) < min_pressure_m]],
        leakage_change_pct=100.0 * (float(np.mean(ratios)) - 1.0) if ratios else 0.0,
        n1=n1,
        service_pressure_m=min_pressure_m,
        leakage_before_m3h=leakage_m3h,
    )
