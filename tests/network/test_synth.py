"""``tirta network synth``: a connected, solvable city with zones, PRVs, DMAs of 1,000–3,000
connections fed through metered inlets, and sensors on real elements; the same seed, the same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tirta.hydraulics import Engine
from tirta.network import load_dmas, load_network, load_sensors
from tirta.network.synth import synth_city, write_city


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "city.inp"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tirta",
            "network",
            "synth",
            "--nodes",
            "2500",
            "--seed",
            "4",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return out


def test_info_reports_every_junction_and_no_problem(city: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tirta", "network", "info", str(city), "--json"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["junctions"] == 2500
    assert info["problems"] == []  # no node cut off from a source, no missing pattern or coordinate
    assert info["reservoirs"] >= 2 and info["tanks"] >= 2 and info["valves"] >= 2  # zones joined by PRVs
    assert all(1000 <= d["connections"] <= 3000 for d in info["dmas"])


def test_dmas_are_fed_only_through_their_inlets(city: Path) -> None:
    net = load_network(city)
    dmas = load_dmas(city.with_name("city.dmas.toml"), net)
    links = net.links
    status = {link.name: str(link.initial_status) for _, link in net.wn.links()}
    for dma in dmas:
        members = set(dma.nodes)
        crossing = links[links["start_node"].isin(members) != links["end_node"].isin(members)]
        assert dma.inlets and set(dma.inlets) <= set(crossing.index), dma.name
        others = set(crossing.index) - set(dma.inlets)
        assert all(status[p] == "Closed" for p in others), dma.name
        assert all(status[p] == "Open" for p in dma.inlets)
    valves = [v for _, v in net.wn.valves()]
    assert valves and all(v.valve_type == "PRV" for v in valves)


def test_pressures_are_plausible_at_the_peak_hour(city: Path) -> None:
    net = load_network(city)
    with Engine(net) as engine:
        snap = engine.solve_snapshot(time_s=7 * 3600)  # the morning peak of the diurnal pattern
    junctions = np.array([t == "Junction" for t in net.nodes["type"]])
    p = snap.pressure_m[junctions]
    assert p.min() > 20.0 and p.max() < 90.0, (p.min(), p.max())


def test_sensors_sit_on_elements_of_the_model(city: Path) -> None:
    net = load_network(city)
    registry = load_sensors(city.with_name("city.sensors.json"), net)
    counts = registry.counts()
    assert counts["flow"] >= 2 * len(load_dmas(city.with_name("city.dmas.toml"), net))
    assert counts["pressure"] > 0 and counts["level"] >= 2 and counts["demand"] > 0


def test_same_seed_same_bytes_other_seed_other_city(tmp_path: Path) -> None:
    a, b, c = synth_city(600, seed=1), synth_city(600, seed=1), synth_city(600, seed=2)
    assert (a.inp, a.dmas_toml, a.sensors) == (b.inp, b.dmas_toml, b.sensors)
    assert a.inp != c.inp
    paths = write_city(a, tmp_path / "x.inp")
    assert [p.name for p in paths] == ["x.inp", "x.dmas.toml", "x.sensors.json"]


@pytest.mark.parametrize(
    ("args", "field"), [(("--nodes", "10"), "--nodes"), (("--nodes", "100", "--out", "x.txt"), "--out")]
)
def test_bad_arguments_give_one_line(tmp_path: Path, args: tuple[str, ...], field: str) -> None:
    argv = [*args] if "--out" in args else [*args, "--out", str(tmp_path / "c.inp")]
    run = subprocess.run(
        [sys.executable, "-m", "tirta", "network", "synth", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and f"field '{field}'" in run.stderr and run.stderr.count("\n") == 1, (
        run.stderr
    )
