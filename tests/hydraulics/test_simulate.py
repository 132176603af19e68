from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from helpers import LTOWN, NET3
from tirta.errors import InputError
from tirta.hydraulics.simulate import SimulationConfig, parse_leak_count, simulate
from tirta.network import load_network, load_sensors
from tirta.telemetry import read_battledim, read_truth


@pytest.fixture(scope="module")
def ltown():
    net = load_network(LTOWN)
    return net, load_sensors(LTOWN.with_name("sensors.json"), net)


def test_reproducible_by_seed(ltown):
    net, sensors = ltown
    cfg = SimulationConfig(days=1, leaks=(2, 2), seed=11, faults=2)
    a = simulate(net, cfg, sensors=sensors)
    b = simulate(net, cfg, sensors=sensors)
    for (_, fa), (_, fb) in zip(a.scada.items(), b.scada.items(), strict=True):
        pd.testing.assert_frame_equal(fa, fb)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.faults, b.faults)
    c = simulate(net, SimulationConfig(days=1, leaks=(2, 2), seed=12), sensors=sensors)
    assert not np.allclose(a.scada.pressure.to_numpy(), c.scada.pressure.to_numpy())


def test_shape_units_and_realism(ltown):
    net, sensors = ltown
    res = simulate(net, SimulationConfig(days=2, leaks=(0, 0), seed=3), sensors=sensors)
    assert res.truth.empty
    p, q, lv, d = res.scada.pressure, res.scada.flow, res.scada.level, res.scada.demand
    assert p.shape == (576, 33) and q.shape == (576, 3) and lv.shape == (576, 1) and d.shape == (576, 82)
    assert str(p.index.tz) == "UTC" and p.index[1] - p.index[0] == pd.Timedelta(minutes=5)
    assert 20 < p.to_numpy().mean() < 70  # m
    assert 0.01 < q["p227"].mean() < 0.05  # m³/s (L-Town inflows are tens of L/s)
    assert lv.to_numpy().min() >= 0 and lv.to_numpy().max() <= 4.0  # T1 is 4 m deep
    # demand realism: day 2 differs from day 1 beyond sensor noise
    day1, day2 = d.iloc[:288].to_numpy(), d.iloc[288:].to_numpy()
    assert np.abs(day1 - day2).mean() > 0.02 * np.abs(day1).mean()


def test_leak_lowers_pressure_near_it(ltown):
    """Same seed with and without one large leak: pressures drop after its start, nearest sensor most."""
    net, sensors = ltown
    cfg = dict(
        days=2, seed=5, leak_diameter_m=(0.025, 0.03), incipient_share=0.0, repair_probability=0.0
    )
    leaky = simulate(net, SimulationConfig(leaks=(1, 1), **cfg), sensors=sensors)
    clean = simulate(net, SimulationConfig(leaks=(0, 0), **cfg), sensors=sensors)
    (leak,) = leaky.truth.itertuples()
    before = leaky.scada.pressure.index < leak.start
    after = leaky.scada.pressure.index >= leak.start + pd.Timedelta(minutes=10)
    diff = clean.scada.pressure - leaky.scada.pressure
    assert np.abs(diff[before].to_numpy()).max() < 1e-4  # only the split pipe differs: solver noise
    drop = diff[after].mean()
    assert drop.max() > 0.3  # m
    assert (drop > -0.01).all()
    g = net.graph()
    row = net.links.loc[leak.linkID]
    dist = nx.single_source_dijkstra_path_length(g, row["start_node"], weight="length")
    nearest = min(drop.index, key=lambda n: dist.get(n, np.inf))
    far = max(drop.index, key=lambda n: dist.get(n, -1) if n in dist else -1)
    assert drop[nearest] > drop[far]
    inflow_gain = (leaky.scada.flow - clean.scada.flow)[after][["p227", "p235"]].sum(axis=1).mean()
    assert inflow_gain * 1000 == pytest.approx(leak.max_lps, rel=0.25)


def test_writes_battledim_layout_and_truth(tmp_path, ltown):
    net, sensors = ltown
    out = tmp_path / "scn"
    res = simulate(
        net,
        SimulationConfig(days=1, train_days=1, leaks=(2, 2), seed=2, faults=3),
        sensors=sensors,
        out=out,
    )
    assert (out / "train" / "Pressures.csv").is_file() and (out / "eval" / "truth.csv").is_file()
    train, evals = read_battledim(out / "train"), read_battledim(out / "eval")
    assert len(train.pressure) == 288 and len(evals.pressure) == 288
    assert evals.pressure.index[0] == train.pressure.index[-1] + pd.Timedelta(minutes=5)
    np.testing.assert_allclose(
        evals.pressure.to_numpy(), res.scada.pressure.iloc[288:].to_numpy(), atol=0.0051
    )
    truth = read_truth(out / "eval" / "truth.csv")
    assert list(truth["linkID"]) == list(res.truth["linkID"])
    assert (truth["start"] >= evals.pressure.index[0]).all()  # no leak in the training period
    assert set(json.loads((out / "sensors.json").read_text())) == {
        "pressure_sensors",
        "flow_sensors",
        "level_sensors",
        "amrs",
    }
    meta = json.loads((out / "scenario.json").read_text())
    assert meta["config"]["seed"] == 2 and meta["leaks"] == 2
    faults = pd.read_csv(out / "eval" / "faults.csv")
    assert set(faults["fault"]) <= {"stuck", "spike", "drift", "gap"}


def test_faults_are_applied(ltown):
    net, sensors = ltown
    cfg = dict(days=1, leaks=(0, 0), seed=9)
    clean = simulate(net, SimulationConfig(**cfg), sensors=sensors)
    faulty = simulate(net, SimulationConfig(faults=6, **cfg), sensors=sensors)
    assert len(faulty.faults) == 6
    for f in faulty.faults.itertuples():
        frame_c = getattr(clean.scada, f.kind)[f.sensor]
        frame_f = getattr(faulty.scada, f.kind)[f.sensor]
        window = (frame_f.index >= f.start) & (frame_f.index <= f.end)
        if f.fault == "gap":
            assert frame_f[window].isna().all()
        elif f.fault == "stuck":
            assert frame_f[window].nunique() == 1
        else:
            assert not np.allclose(frame_f[window], frame_c[window])


def test_any_network_gets_default_sensors():
    res = simulate(NET3, SimulationConfig(days=0.5, leaks=(1, 1), seed=1, step_s=900))
    counts = res.sensors.counts()
    assert counts["pressure"] >= 3 and counts["level"] == 3 and counts["flow"] >= 2
    assert len(res.truth) == 1


def test_leak_count_parsing_and_config_errors():
    assert parse_leak_count("3") == (3, 3)
    assert parse_leak_count("0-3") == (0, 3)
    with pytest.raises(InputError):
        parse_leak_count("three")
    with pytest.raises(InputError):
        SimulationConfig(days=0)
    with pytest.raises(InputError):
        SimulationConfig(step_s=7)


def test_customer_leaks_and_meter_faults_are_planted_with_truth(tmp_path):
    net = load_network(NET3)
    cfg = SimulationConfig(
        days=4, train_days=3, leaks=(0, 0), seed=4, customer_leaks=3, meter_faults=2, customers=12
    )
    res = simulate(net, cfg, out=tmp_path)
    cust = res.customers
    assert cust is not None and cust.readings.shape == (7 * 24, 12)
    assert (cust.truth["kind"] == "customer_leak").sum() == 3 and len(cust.truth) == 5
    t_split = pd.Timestamp("2021-01-04", tz="UTC")
    assert (cust.truth["start"] >= t_split).all()  # only in the eval period
    leak = cust.truth[cust.truth["kind"] == "customer_leak"].iloc[0]
    during = cust.readings.loc[leak["start"] : leak["end"], leak["customer"]] * 3.6e6
    assert during.min() >= leak["flow_lph"] - 0.5  # a continuous flow never lets the meter rest
    assert (tmp_path / "eval" / "Customers.csv").is_file() and (
        tmp_path / "train" / "Customers.csv"
    ).is_file()
    truth = pd.read_csv(tmp_path / "eval" / "customer_truth.csv")
    assert len(truth) == 5 and set(pd.read_csv(tmp_path / "customers.csv")["id"]) == set(cust.readings)
    with pytest.raises(InputError) as err:
        SimulationConfig(customer_leaks=5, meter_faults=5, customers=8)
    assert err.value.field == "customers"
