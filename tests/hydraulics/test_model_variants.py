"""Every flow unit, headloss formula and valve type EPANET knows: the engine and the model detector
run on each, and the flow units give the same SI answer (units are converted at the door only)."""

from __future__ import annotations

import numpy as np
import pytest
import wntr

from helpers import NET1
from tirta.hydraulics import Engine
from tirta.hydraulics.simulate import SimulationConfig, simulate
from tirta.leaks.detect import model_pressures
from tirta.network import load_network

FLOW_UNITS = ["CFS", "GPM", "MGD", "IMGD", "AFD", "LPS", "LPM", "MLD", "CMH", "CMD"]
# valve type → SI setting (PRV/PSV/PBV m, FCV m³/s, TCV loss coefficient, GPV headloss curve)
VALVES = {"PRV": 60.0, "PSV": 40.0, "PBV": 5.0, "FCV": 0.02, "TCV": 10.0, "GPV": None}


def _net1_pressures(path) -> np.ndarray:
    with Engine(path) as eng:
        return eng.run(6 * 3600).pressure_m[["10", "11", "12", "22", "32"]].to_numpy()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return _net1_pressures(NET1)


@pytest.mark.parametrize("units", FLOW_UNITS)
def test_every_flow_unit_gives_the_same_si_pressures(units, reference, tmp_path):
    wn = wntr.network.WaterNetworkModel(str(NET1))
    path = tmp_path / f"net1_{units}.inp"
    wntr.network.write_inpfile(wn, str(path), units=units)
    net = load_network(path)
    assert net.links.loc["10", "length_m"] == pytest.approx(10530 * 0.3048, rel=1e-6)
    np.testing.assert_allclose(_net1_pressures(path), reference, atol=0.05)


def _variant(tmp_path, *, valve: str | None = None, headloss: str | None = None):
    wn = wntr.network.WaterNetworkModel(str(NET1))
    if headloss == "C-M":
        wn.options.hydraulic.headloss = "C-M"
        for _, pipe in wn.pipes():
            pipe.roughness = 0.011  # Manning's n of cast iron
    elif headloss == "D-W":
        wn.options.hydraulic.headloss = "D-W"
        for _, pipe in wn.pipes():
            pipe.roughness = 0.26  # mm, cast iron (the .inp keeps D-W roughness in mm or millift)
    if valve is not None:  # pipe 11 (junction 11 → 12) becomes a valve of this type
        wn.remove_link("11")
        setting = VALVES[valve]
        if valve == "GPV":
            wn.add_curve("GPV1", "HEADLOSS", [(0.0, 0.0), (0.05, 2.0), (0.2, 20.0)])
            wn.add_valve("11", "11", "12", 0.3556, "GPV", initial_setting="GPV1")
        else:
            wn.add_valve("11", "11", "12", 0.3556, valve, initial_setting=setting)
    path = tmp_path / f"net1_{valve or ''}{headloss or ''}.inp"
    wntr.network.write_inpfile(wn, str(path), units="LPS")
    return path


@pytest.mark.parametrize(
    ("valve", "headloss"),
    [(v, None) for v in VALVES] + [(None, "C-M"), (None, "D-W")],
)
def test_model_detector_runs_on_every_valve_type_and_headloss_formula(valve, headloss, tmp_path):
    path = _variant(tmp_path, valve=valve, headloss=headloss)
    net = load_network(path)
    if valve is not None:
        assert net.links.loc["11", "type"] == "Valve"
    data = simulate(net, SimulationConfig(days=0.5, leaks=(0, 0), seed=4)).scada
    sensors = list(data.pressure.columns)
    model = model_pressures(net, data, sensors)
    assert len(model) == 12 and np.isfinite(model.to_numpy()).all()
    measured = data.pressure.resample("1h").mean().to_numpy()
    assert float(np.nanmedian(np.abs(measured - model.to_numpy()))) < 10.0
