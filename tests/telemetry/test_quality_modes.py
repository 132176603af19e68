"""Quality flags on a network with pumps, tanks and controls (wntr's Net3): switching is not a spike.

Net3's pumps start and stop on tank levels and its demand pattern steps every hour, so many pressures
jump at once several times a day. Before the flags learnt the operating modes, 37 of 38 "spikes" on
such data marked that switching and an injected drift came out as a row of spikes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import NET3
from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, simulate
from tirta.network import load_network
from tirta.network.sensors import SensorRegistry, make_sensor
from tirta.telemetry.quality import detect, operating_changes

TRAIN_DAYS = 3
STEP = pd.Timedelta("5min")


@pytest.fixture(scope="module", params=[0, 3, 4])
def net3(request: pytest.FixtureRequest) -> SimulationResult:
    """3 fault-free days then 4 days of Net3 telemetry with 6 injected sensor faults, no leaks:
    12 pressure loggers, the two pumps' flows and the three tanks' levels."""
    net = load_network(NET3)
    nodes, links = net.nodes, net.links
    rng = np.random.default_rng(request.param)
    junctions = nodes.index[nodes["type"] == "Junction"].to_numpy()
    reg = SensorRegistry(source="test")
    for node in sorted(rng.choice(junctions, 12, replace=False)):
        reg.add(make_sensor({"id": f"p{node}", "kind": "pressure", "node": node}))
    for link in links.index[links["type"] == "Pump"]:
        reg.add(make_sensor({"id": f"q{link}", "kind": "flow", "link": link}))
    for node in nodes.index[nodes["type"] == "Tank"]:
        reg.add(make_sensor({"id": f"h{node}", "kind": "level", "node": node}))
    cfg = SimulationConfig(days=4, train_days=TRAIN_DAYS, leaks=(0, 0), seed=request.param, faults=6)
    return simulate(net, cfg, sensors=reg)


def _flags(sim: SimulationResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pressure flags over the four days (drift fitted on the three before, flows and levels as
    context) and the injected pressure faults."""
    split = sim.scada.pressure.index[0] + pd.Timedelta(days=TRAIN_DAYS)
    wide = sim.scada.pressure.copy()
    faults = sim.faults[sim.faults["kind"] == "pressure"]
    # and a logger stuck for 4 h across the pumps' switching (the simulator's seeds draw few)
    sensor = next(c for c in wide.columns if c not in set(faults["sensor"]))
    rows = wide.index[(wide.index >= split + pd.Timedelta(hours=30))][:48]
    wide.loc[rows, sensor] = wide.loc[rows[0], sensor]
    stuck = {"sensor": sensor, "kind": "pressure", "fault": "stuck", "start": rows[0], "end": rows[-1]}
    faults = pd.concat([faults, pd.DataFrame([stuck])], ignore_index=True)
    context = pd.concat([sim.scada.flow, sim.scada.level], axis=1).loc[split:]
    flags = detect(wide.loc[split:], train=wide.loc[: split - STEP], context=context)
    return flags, faults


def _within(flags: pd.DataFrame, fault: object, slack: pd.Timedelta = STEP) -> pd.Series:
    return (
        (flags["sensor"] == fault.sensor)  # type: ignore[attr-defined]
        & (flags["start"] <= fault.end + slack)  # type: ignore[attr-defined]
        & (flags["end"] >= fault.start - slack)  # type: ignore[attr-defined]
    )


def test_pump_and_tank_switching_raises_no_spike(net3: SimulationResult) -> None:
    """Was: 16 of 26 spike flags on seed 0 marked switching (several sensors stepping at once)."""
    flags, faults = _flags(net3)
    spikes = flags[flags["kind"] == "spike"]
    injected = np.zeros(len(spikes), dtype=bool)
    for fault in faults[faults["fault"] == "spike"].itertuples():
        injected |= _within(spikes, fault).to_numpy()
    assert (~injected).sum() <= 1, spikes[~injected]
    changes = operating_changes(net3.scada.flow)
    assert changes.sum() >= 4  # the pumps do switch, several times over the week


def test_injected_faults_are_found_with_their_kind(net3: SimulationResult) -> None:
    """Was: an injected drift came out as a row of spikes, and not as a drift."""
    flags, faults = _flags(net3)
    for fault in faults.itertuples():
        hit = flags[_within(flags, fault)]
        assert fault.fault in set(hit["kind"]), f"{fault.fault} on {fault.sensor} not flagged"
        if fault.fault == "drift":  # one drift flag, no spikes along it
            assert (hit["kind"] == "drift").sum() == 1
            assert not (hit["kind"] == "spike").any()
    drifting = set(faults.loc[faults["fault"] == "drift", "sensor"])
    assert set(flags.loc[flags["kind"] == "drift", "sensor"]) <= drifting  # no neighbour blamed
