"""The engine and the model detector on models and data nobody here wrote: tanks read past their
levels, default patterns, implausible results said out loud."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from helpers import NET1, NET3, WNTR_NETWORKS
from tirta.hydraulics import PDA, Engine
from tirta.hydraulics import engine as engine_module
from tirta.hydraulics.simulate import SimulationConfig, simulate
from tirta.leaks.detect import model_pressures
from tirta.network import load_network

ANYTOWN = WNTR_NETWORKS.parent.parent / "tests" / "networks_for_testing" / "Anytown.inp"
FT = 0.3048


def test_tank_level_outside_its_range_is_clipped_with_a_warning(caplog):
    """Net1's tank 2: levels 100 to 150 ft; a gauge reading below or above is clipped, not Error 225."""
    engine_module._WARNED.clear()  # logged once per process and model
    with Engine(NET1) as eng, caplog.at_level(logging.WARNING, logger="tirta.hydraulics"):
        assert eng.set_tank_level("2", 99.0 * FT) == pytest.approx(100.0 * FT)
        assert eng.set_tank_level("2", 151.0 * FT) == pytest.approx(150.0 * FT)
        assert eng.set_tank_level("2", 120.0 * FT) == pytest.approx(120.0 * FT)
        snap = eng.solve_snapshot()
    assert np.isfinite(snap.pressure_m).all()
    assert len(eng.notes) == 1 and "tank '2'" in eng.notes[0] and "clipped" in eng.notes[0]
    assert "outside its range" in caplog.text


def test_model_detector_on_net1_default_pattern_and_a_tank_gauge_below_its_minimum():
    """Net1's junctions use the default pattern '1' (wntr names it, EPANET assigns it): Error 205
    before; the level read 0.5 m below the tank's minimum: Error 225 before."""
    net = load_network(NET1)
    data = simulate(net, SimulationConfig(days=1, leaks=(0, 0), seed=1)).scada
    low = 100.0 * FT - 0.5
    shifted = replace(data, level=data.level.clip(upper=low))
    sensors = list(data.pressure.columns)
    model = model_pressures(net, shifted, sensors)
    assert len(model) == 24 and np.isfinite(model.to_numpy()).all()


def test_model_detector_on_net3_with_pumps_and_tanks():
    net = load_network(NET3)
    data = simulate(net, SimulationConfig(days=1, leaks=(0, 0), seed=2)).scada
    sensors = list(data.pressure.columns)
    model = model_pressures(net, data, sensors)
    measured = data.pressure.resample("1h").mean()
    assert np.isfinite(model.to_numpy()).all()
    assert float(np.nanmedian(np.abs(measured.to_numpy() - model.to_numpy()))) < 5.0


def test_pumps_that_never_run_are_warned():
    """wntr's test Anytown: every pump's speed pattern is 0, so nothing flows and pressures are −30 m."""
    with Engine(ANYTOWN, pda=PDA()) as eng:
        res = eng.run(6 * 3600)
    text = "\n".join(res.warnings)
    assert "implausible pressure: -30.5 m" in text and "below -5 m" in text
    assert "no water moves" in text


def test_a_reservoir_typed_too_high_is_warned(tmp_path):
    """Net1 with its reservoir 3,000 ft too high (a typing slip): 265 m at junction 10."""
    text = re.sub(r"^( 9\s+)800(\s)", r"\g<1>3800\2", NET1.read_text(), count=1, flags=re.M)
    assert text != NET1.read_text()
    path = tmp_path / "high.inp"
    path.write_text(text)
    with Engine(path) as eng:
        res = eng.run(3600)
    assert any(
        w.startswith("implausible pressure: 265 m at junction '10'") and "above 200 m" in w
        for w in res.warnings
    )
    with Engine(NET1) as eng:
        assert eng.run(3600).warnings == []


@pytest.mark.slow
def test_simulate_prints_the_warnings(tmp_path):
    args = ["simulate", ANYTOWN, "--days", "0.25", "--leaks", "0", "--out", tmp_path / "o"]
    out = subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    warnings = [t for t in out.stderr.splitlines() if t.startswith("warning: implausible")]
    assert len(warnings) == 2, out.stderr


def test_net2_over_a_week_is_warned():
    """Net2's only inflow is a fixed negative demand into one tank: after some days the model cannot
    balance and EPANET returns pressures of hundreds of kilometres (seen: 1,446 m and 615,018 m)."""
    net2 = WNTR_NETWORKS / "Net2.inp"
    sim = simulate(load_network(net2), SimulationConfig(days=7, leaks=(0, 0), seed=0))
    high = [w for w in sim.warnings if w.startswith("implausible pressure") and "above 200 m" in w]
    assert high, sim.warnings
    assert any(w.startswith("EPANET warned") for w in sim.warnings)
