"""Localisation on L-Town: engine signatures, serial and process-pool executors, ranking and radius."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import LTOWN
from tirta.hydraulics import PDA, Engine
from tirta.leaks.evaluate import PipeDistances
from tirta.leaks.localize import (
    OPERATING_HOURS,
    ProcessExecutor,
    SerialExecutor,
    Signatures,
    _physical,
    compute_signatures,
    localise,
)
from tirta.network import load_network

SENSORS = json.loads((LTOWN.parent / "sensors.json").read_text())["pressure_sensors"]


@pytest.fixture(scope="module")
def net():
    return load_network(LTOWN)


@pytest.fixture(scope="module")
def dist(net):
    return PipeDistances(net)


@pytest.fixture(scope="module")
def signatures(net):
    return compute_signatures(net, SENSORS, executor=SerialExecutor())


@pytest.mark.slow
def test_process_pool_gives_the_same_signatures(net, signatures):
    pooled = compute_signatures(net, SENSORS, executor=ProcessExecutor(2))
    assert pooled.pipes == signatures.pipes
    assert np.allclose(pooled.matrix, signatures.matrix, atol=1e-9)


def test_signatures_are_pressure_drops(signatures, net):
    frame = signatures.frame()
    assert frame.shape == (905, 33)
    # a leak lowers pressure everywhere in its zone and nowhere raises it much
    assert (frame.to_numpy() <= 1e-3).mean() > 0.99
    # the strongest drop of a pipe next to a sensor node is at that sensor
    pipe = next(p for p, r in net.links.iterrows() if r["type"] == "Pipe" and r["start_node"] == "n105")
    assert frame.loc[pipe].idxmin() == "n105"


def _observed(pipe: str, size_lps: float, net, noise_m: float, seed: int) -> tuple[pd.Series, float]:
    """Pressure change at the sensors for a real midpoint leak, and its flow (L/s), from the engine.

    Averaged over the signatures' operating points (night and afternoon), as a day-long window is.
    """
    changes, flows = [], []
    with Engine(net, pda=PDA()) as eng:
        node = eng.add_leak_node(pipe)
        idx = [eng.node_index(s) - 1 for s in SENSORS]
        coef = size_lps / 1000.0 / np.sqrt(40.0)
        for hour in OPERATING_HOURS:
            eng.set_emitter(node, 0.0)
            base = eng.solve_snapshot(int(hour * 3600)).pressure_m
            eng.set_emitter(node, coef)
            leak = eng.solve_snapshot(int(hour * 3600)).pressure_m
            changes.append(leak[idx] - base[idx])
            flows.append(coef * np.sqrt(leak[eng.node_index(node) - 1]) * 1000.0)
    change = np.mean(changes, axis=0) + 0.05  # plus a common offset the fit must ignore
    flow_lps = np.mean(flows)
    rng = np.random.default_rng(seed)
    return pd.Series(change + rng.normal(0, noise_m, len(SENSORS)), index=SENSORS), float(flow_lps)


@pytest.mark.parametrize("pipe", ["p257", "p427", "p654", "p810"])
def test_localise_finds_a_midpoint_leak(pipe, net, dist, signatures):
    observed, flow_lps = _observed(pipe, 3.0, net, noise_m=0.005, seed=1)
    loc = localise(observed, signatures, dist, noise_m=0.01)
    assert dist.between(loc.pipe, pipe) <= 300.0
    assert loc.radius_m < 1000.0
    assert loc.candidates[0].score >= loc.candidates[-1].score
    assert sum(c.score for c in loc.candidates) <= 1.0 + 1e-9
    assert loc.size_lps == pytest.approx(flow_lps, rel=0.3)


def test_localise_respects_the_candidate_restriction(net, dist, signatures):
    observed, _ = _observed("p257", 3.0, net, noise_m=0.005, seed=2)
    zone = ["p1", "p2", "p3"]
    loc = localise(observed, signatures, dist, pipes=zone, noise_m=0.01)
    assert loc.pipe in zone and {c.pipe for c in loc.candidates} <= set(zone)


def test_more_noise_widens_the_radius(net, dist, signatures):
    observed, _ = _observed("p427", 2.0, net, noise_m=0.0, seed=3)
    sharp = localise(observed, signatures, dist, noise_m=0.002)
    blurred = localise(observed, signatures, dist, noise_m=0.2)
    assert blurred.radius_m >= sharp.radius_m


def test_midpoint_signature_is_the_leak_at_the_middle_of_the_pipe(net, signatures):
    # a true midpoint leak node (engine.add_leak_nodes) against the mean of the two end nodes
    from tirta.leaks.localize import _simulate_chunk, _Task

    pipes = ("p257", "p427", "p654")
    task = _Task(str(net.path), tuple(SENSORS), pipes, tuple(OPERATING_HOURS), 25.0, True)
    mid = _simulate_chunk(task)
    ends = signatures.frame().loc[list(pipes)].to_numpy()
    assert mid.shape == (3, 33) and (mid <= 1e-3).all()
    # the same physics: close to the end-node mean, exactly what a leak at the middle does
    assert np.abs(mid - ends).max() < 0.25 * np.abs(ends).max()
    for row, pipe in zip(mid, pipes, strict=True):
        observed, flow_lps = _observed(pipe, 3.0, net, noise_m=0.0, seed=0)
        expected = (observed.to_numpy() - 0.05) / flow_lps
        assert np.allclose(row, expected, atol=0.1 * np.abs(expected).max())


def test_a_faulty_sensor_in_stacked_residuals_is_dropped_from_both_blocks(net, dist, signatures):
    # two views of one change (``r:`` regression, ``m:`` model residuals) share a drifting sensor
    observed, _ = _observed("p654", 3.0, net, noise_m=0.002, seed=4)
    bad = observed.copy()
    bad["n410"] -= 0.3  # a drift of 30 cm against a leak signal of a few centimetres
    cols = [f"r:{s}" for s in SENSORS] + [f"m:{s}" for s in SENSORS]
    stacked = Signatures(signatures.pipes, cols, np.c_[signatures.matrix, signatures.matrix])
    two = pd.Series(np.r_[bad.to_numpy(), bad.to_numpy()], index=cols)
    loc = localise(two, stacked, dist, noise_m=0.005)
    assert dist.between(loc.pipe, "p654") <= 300.0
    assert _physical("m:n410") == _physical("r:n410") == _physical("n410") == "n410"
