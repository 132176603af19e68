"""The metered zone of a DMA and its inflow from stored telemetry.

A zone is a DMA (or DMAs merged across unmetered outlets) whose every boundary link carries a flow meter
in the store. Its inflow is Σ inlet meters − Σ outlet meters − d(storage)/dt of the tanks inside, in m³/s;
the sign of each meter comes from the link direction in the network model (EPANET flow is positive from
start to end node), or from its role (inlet +, outlet −) when no model is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.network.dma import DMA
from tirta.network.model import Network
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.store.base import Store

__all__ = ["Meter", "Tank", "Zone", "read_zone", "resolve_zone", "zone_inflow"]


@dataclass(frozen=True)
class Meter:
    """A flow meter on a boundary link; ``sign`` +1 when positive link flow enters the zone."""

    link: str
    sensor: str
    sign: int
    role: str  # inlet or outlet of the zone


@dataclass(frozen=True)
class Tank:
    """A storage tank inside the zone: its level sensor and plan area (m²)."""

    id: str
    sensor: str
    area_m2: float


@dataclass(frozen=True)
class Zone:
    """What the balance of one DMA reads: its boundary meters, tanks, sensors and size figures."""

    name: str
    dmas: tuple[str, ...]
    nodes: frozenset[str]
    meters: tuple[Meter, ...]
    tanks: tuple[Tank, ...] = ()
    connections: int = 0
    mains_length_km: float = 0.0
    average_pressure_m: float | None = None
    pressure_sensors: tuple[str, ...] = ()
    amr_sensors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def formula(self) -> str:
        """The inflow as a sum of meter ids, e.g. ``p227 + p235 − PUMP_1 − dV(T1)/dt``."""
        parts = [("+ " if m.sign > 0 else "− ") + m.sensor for m in self.meters]
        parts += [f"− dV({t.id})/dt" for t in self.tanks]
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else text


def _flow_sensor_on(link: str, sensors: SensorRegistry) -> str | None:
    for s in sensors.by_kind("flow"):
        if s.link == link:
            return s.id
    return None


def _level_sensor_on(node: str, sensors: SensorRegistry) -> str | None:
    for s in sensors.by_kind("level"):
        if s.node == node:
            return s.id
    return None


def _other_side(
    link: str, inside: set[str], dma: DMA, dmas: Sequence[DMA], network: Network | None
) -> DMA | None:
    """The DMA across a boundary link (None when the other side is no DMA, e.g. a reservoir)."""
    if network is not None and link in network.links.index:
        start, end = network.links.loc[link, ["start_node", "end_node"]]
        outside = end if start in inside else start
        return next((d for d in dmas if outside in d.nodes), None)
    return next((d for d in dmas if d.name != dma.name and link in (*d.inlets, *d.outlets)), None)


def _zone_tanks(
    nodes: set[str], boundary: set[str], dmas: Sequence[DMA], network: Network | None
) -> list[str]:
    """Tanks inside the zone: listed as nodes, or in no DMA with every non-boundary neighbour inside."""
    if network is None:
        return []
    tanks = network.nodes.index[network.nodes["type"] == "Tank"]
    listed = {n for d in dmas for n in d.nodes}
    links = network.links
    out = []
    for tank in tanks:
        if tank in nodes:
            out.append(str(tank))
            continue
        if tank in listed:
            continue
        touching = links[(links["start_node"] == tank) | (links["end_node"] == tank)]
        touching = touching[~touching.index.isin(list(boundary))]
        neighbours = set(touching["start_node"]) | set(touching["end_node"])
        neighbours.discard(tank)
        if neighbours and neighbours <= nodes:
            out.append(str(tank))
    return out


def _tank_area(tank: str, network: Network) -> float:
    node = network.wn.get_node(tank)
    if getattr(node, "vol_curve", None) is not None:
        raise InputError(
            f"tank {tank} has a volume curve; only cylindrical tanks are supported", field=tank
        )
    return math.pi * float(node.diameter) ** 2 / 4.0


def resolve_zone(
    name: str,
    dmas: Sequence[DMA],
    sensors: SensorRegistry,
    network: Network | None = None,
    *,
    merge_unmetered_outlets: bool = True,
) -> Zone:
    """The metered zone of DMA ``name``; InputError names the meter that is missing.

    An unmetered outlet into another DMA that has no other boundary leaves the downstream water inside the
    measured inflow: with ``merge_unmetered_outlets`` that DMA is merged into the zone (and said so), since
    its consumption and losses are then part of what the meters see. An unmetered inlet, or an unmetered
    outlet to no DMA, cannot be measured around: the zone is refused.
    """
    by_name = {d.name: d for d in dmas}
    if name not in by_name:
        raise InputError(
            f"unknown DMA '{name}'; expected one of {', '.join(sorted(by_name))}", field="dma"
        )
    members = [by_name[name]]
    notes: list[str] = []
    while True:
        nodes = {n for d in members for n in d.nodes}
        names = {d.name for d in members}
        roles: dict[str, str] = {}
        for d in members:
            for role, links in (("inlet", d.inlets), ("outlet", d.outlets)):
                for link in links:
                    other = _other_side(link, nodes, d, dmas, network)
                    if other is not None and other.name in names:
                        continue  # an internal link once DMAs are merged
                    roles.setdefault(link, role)
        unmetered = [lk for lk in roles if _flow_sensor_on(lk, sensors) is None]
        if not unmetered:
            break
        link = unmetered[0]
        owner = next(d for d in members if link in (*d.inlets, *d.outlets))
        other = _other_side(link, nodes, owner, dmas, network)
        if roles[link] == "inlet" or other is None or not merge_unmetered_outlets:
            hint = ""
            if other is not None and roles[link] == "inlet":
                hint = f"; its inflow is measured only together with DMA {other.name} (run DMA {other.name})"
            raise InputError(
                f"DMA '{name}': {roles[link]} {link} has no flow meter in the store, so the DMA's inflow "
                f"cannot be measured{hint}",
                field=link,
            )
        notes.append(
            f"outlet {link} of {owner.name} is not metered: the water it passes to DMA {other.name} stays "
            f"inside the measured inflow, so {other.name} is analysed together with {owner.name}"
        )
        members.append(other)
    boundary = set(roles)
    tank_ids = _zone_tanks(nodes, boundary, dmas, network)
    inside = nodes | set(tank_ids)
    meters = []
    for link, role in roles.items():
        sign = 1 if role == "inlet" else -1
        if network is not None and link in network.links.index:
            start, end = network.links.loc[link, ["start_node", "end_node"]]
            if end in inside and start not in inside:
                sign = 1
            elif start in inside and end not in inside:
                sign = -1
            else:
                raise InputError(
                    f"DMA '{name}': {role} {link} ({start} → {end}) does not cross the DMA boundary",
                    field=link,
                )
        meters.append(Meter(link, _flow_sensor_on(link, sensors) or link, sign, role))
    tanks = []
    for tank in tank_ids:
        sensor = _level_sensor_on(tank, sensors)
        if sensor is None:
            raise InputError(
                f"DMA '{name}': tank {tank} has no level sensor in the store, so its storage change "
                "cannot be taken out of the inflow",
                field=tank,
            )
        assert network is not None  # tanks are only found through the model
        tanks.append(Tank(tank, sensor, _tank_area(tank, network)))
    resolved = [d.resolve(network) if network is not None else d for d in members]
    missing = [d.name for d in resolved if d.connections is None]
    if missing:
        raise InputError(f"DMA '{missing[0]}' gives no 'connections'", field="connections")
    mains = [d.mains_length_km for d in resolved]
    if any(m is None for m in mains):
        raise InputError(
            "DMA gives no 'mains_length_km' and no network model was given to measure it",
            field="mains_length_km",
        )
    pressures = [d.average_pressure_m for d in resolved if d.average_pressure_m is not None]
    return Zone(
        name="+".join(d.name for d in members),
        dmas=tuple(d.name for d in members),
        nodes=frozenset(nodes),
        meters=tuple(sorted(meters, key=lambda m: (-m.sign, m.link))),
        tanks=tuple(tanks),
        connections=sum(int(d.connections or 0) for d in resolved),
        mains_length_km=float(sum(m or 0.0 for m in mains)),
        average_pressure_m=float(np.mean(pressures)) if pressures else None,
        pressure_sensors=tuple(s.id for s in sensors.by_kind("pressure") if s.node in nodes),
        amr_sensors=tuple(s.id for s in sensors.by_kind("demand") if s.node in nodes),
        notes=tuple(notes),
    )


def _regular(frame: pd.DataFrame) -> pd.DataFrame:
    """Resample to the coarsest median sampling step of the columns (mean per step)."""
    steps = [frame[c].dropna().index.to_series().diff().median() for c in frame.columns]
    steps = [s for s in steps if pd.notna(s)]
    if not steps:
        return frame
    step = max(steps)
    return frame.resample(step, label="left", closed="left").mean()


def read_zone(
    store: Store, zone: Zone, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Raw frames (SI) of the zone's meters, tank levels, pressures and AMR meters over [start, end)."""
    out = {}
    groups = {
        "meters": [m.sensor for m in zone.meters],
        "levels": [t.sensor for t in zone.tanks],
        "pressure": list(zone.pressure_sensors),
        "amr": list(zone.amr_sensors),
    }
    for key, ids in groups.items():
        frame = store.read(ids, start, end) if ids else pd.DataFrame()
        out[key] = _regular(frame) if not frame.empty else frame
    return out


def zone_inflow(zone: Zone, meters: pd.DataFrame, levels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Signed meter flows, storage change and ``inflow`` (all m³/s) on the meters' regular time grid.

    A time step counts only when every meter (and every tank level, now and one step before) has a value;
    elsewhere ``inflow`` is NaN. d(storage)/dt is the backward difference of area × level.
    """
    if meters.empty:
        raise InputError(f"zone {zone.name}: no meter readings in the period", field="from")
    cols = {}
    for m in zone.meters:
        if m.sensor not in meters.columns:
            raise InputError(f"zone {zone.name}: no readings of meter {m.sensor}", field=m.sensor)
        cols[m.sensor] = m.sign * meters[m.sensor]
    frame = pd.DataFrame(cols, index=meters.index)
    if zone.tanks:
        lv = (levels if levels is not None else pd.DataFrame()).reindex(frame.index)
        step_s = frame.index.to_series().diff().dt.total_seconds()
        for t in zone.tanks:
            if t.sensor not in lv.columns:
                raise InputError(
                    f"zone {zone.name}: no readings of tank level {t.sensor}", field=t.sensor
                )
            rate = t.area_m2 * lv[t.sensor].diff() / step_s
            frame[f"dV({t.id})/dt"] = -rate
    frame["inflow"] = frame.sum(axis=1, skipna=False)
    return frame
