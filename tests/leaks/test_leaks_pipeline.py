"""End to end on short simulated L-Town scenarios: detect, localise, known leaks, the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from helpers import LTOWN
from tirta.hydraulics.simulate import SimulationConfig, simulate
from tirta.leaks.evaluate import PipeDistances, read_results, score_operational
from tirta.leaks.pipeline import run
from tirta.network import load_network, load_sensors

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net():
    return load_network(LTOWN)


@pytest.fixture(scope="module")
def dist(net):
    return PipeDistances(net)


@pytest.fixture(scope="module")
def sensors(net):
    return load_sensors(LTOWN.with_name("sensors.json"), net)


def _tirta(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def test_abrupt_leak_found_fast_and_close(net, dist, sensors):
    # seed 12: one abrupt leak (p779, ≈ 4.8 L/s) 1.3 days into the 4-day evaluation period
    sim = simulate(net, SimulationConfig(days=4, train_days=7, leaks=(1, 1), seed=12), sensors=sensors)
    truth = sim.truth
    assert list(truth["kind"]) == ["abrupt"], "scenario changed: pick a seed with one abrupt leak"
    split = sim.scada.index[0] + pd.Timedelta(days=7)
    found = run(net, sim.scada.slice(split, None), sim.scada.slice(None, split))
    assert len(found) == 1
    f = found[0]
    start = truth["start"].iloc[0]
    assert start <= f.detection.time <= start + pd.Timedelta(minutes=30)
    assert f.alarm.detected_at - start <= pd.Timedelta(hours=1)
    assert f.alarm.size_lps == pytest.approx(truth["max_lps"].iloc[0], rel=0.3)
    assert dist.between(f.detection.pipe, truth["linkID"].iloc[0]) <= 300.0
    assert f.localisation is not None and f.radius_m < 1000
    assert score_operational(truth, [f.detection], dist).f1 == 1.0


def test_known_leak_is_not_raised_again_but_a_second_one_is(net, dist, sensors):
    # seed 26: abrupt p505 at day 2.88 (never repaired), abrupt p600 at day 3.73
    sim = simulate(net, SimulationConfig(days=6, leaks=(2, 2), seed=26), sensors=sensors)
    truth = sim.truth.set_index("linkID")
    assert set(truth.index) == {"p505", "p600"} and (truth["kind"] == "abrupt").all()
    split = sim.scada.index[0] + pd.Timedelta(days=3.3)
    known = sim.truth[sim.truth["linkID"] == "p505"]
    found = run(net, sim.scada.slice(split, None), sim.scada.slice(None, split), train_truth=known)
    assert len(found) == 1
    assert dist.between(found[0].detection.pipe, "p600") <= 300.0
    assert found[0].detection.time >= truth.loc["p600", "start"]


def test_cli_detect_then_score(tmp_path, net):
    out = tmp_path / "scenario"
    simulate(
        net,
        SimulationConfig(days=4, train_days=7, leaks=(1, 1), seed=12),
        sensors=load_sensors(LTOWN.with_name("sensors.json"), net),
        out=out,
    )
    results = tmp_path / "results.txt"
    done = _tirta(
        "leaks", "detect", LTOWN, out / "eval", "--train", out / "train",
        "--sensors", out / "sensors.json", "--out", results,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = results.read_text().splitlines()
    assert lines[0] == "# linkID, startTime" and len(lines) == 2
    assert len(read_results(results, net)) == 1
    scored = _tirta("leaks", "score", LTOWN, out / "eval" / "truth.csv", results)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["operational"]["tp"] == 1


def test_cli_detect_bad_folder_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _tirta("leaks", "detect", LTOWN, tmp_path / "empty", "--out", tmp_path / "r.txt")
    assert done.returncode == 2
    assert "no BattLeDIM files" in done.stderr and "Traceback" not in done.stderr
