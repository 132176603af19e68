from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import wntr

from helpers import LTOWN, NET1, NET3
from tirta.errors import InputError, SimulationError
from tirta.hydraulics import PDA, Engine, Leak, orifice_coefficient, orifice_flow


@pytest.mark.parametrize("path", [NET1, NET3], ids=["Net1", "Net3"])
def test_engine_matches_wntr_epanet_simulator(path, tmp_path):
    """EPANET 2.3 toolkit vs wntr's EPANET 2.2 run: pressures within 0.1 m at every report step."""
    wn = wntr.network.WaterNetworkModel(str(path))
    ref = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp_path / "wntr"))
    ref_p = ref.node["pressure"]
    with Engine(path) as engine:
        res = engine.run()
    ours = res.pressure_m[ref_p.columns]
    assert len(ours) == len(ref_p)
    np.testing.assert_allclose(ours.to_numpy(), ref_p.to_numpy(), atol=0.1)
    ref_q = ref.link["flowrate"]
    np.testing.assert_allclose(res.flow_m3s[ref_q.columns].to_numpy(), ref_q.to_numpy(), atol=1e-4)
    assert str(res.pressure_m.index.tz) == "UTC"
    assert (np.diff(res.pressure_m.index.to_numpy()) == np.timedelta64(3600, "s")).all()


def test_net1_reference_pressure_at_0h():
    """EPANET regression suite, Example 1 at 0:00: node 10 at 127.54 psi (±0.1 psi)."""
    with Engine(NET1) as engine:
        res = engine.run()
    assert res.pressure_m["10"].iloc[0] / 0.70307 == pytest.approx(127.54, abs=0.1)
    assert res.head_m["10"].iloc[0] / 0.3048 == pytest.approx(1004.35, abs=0.01)


def test_leak_emitter_follows_orifice_equation():
    leak = Leak("p257", diameter_m=0.012, start_s=3600)
    with Engine(LTOWN, flow_change_m3s=1e-6) as engine:
        node = engine.add_leak(leak)
        res = engine.run(6 * 3600)
    pressure = res.pressure_m[node]
    flow = res.leak_m3s["p257"]
    assert (flow[res.pressure_m.index < engine.start + np.timedelta64(3600, "s")] == 0).all()
    after = flow.index >= engine.start + np.timedelta64(3600, "s")
    expected = orifice_coefficient(0.012) * np.sqrt(pressure[after])
    np.testing.assert_allclose(flow[after], expected, rtol=0.01)
    assert orifice_flow(0.012, 30.0) * 1000 == pytest.approx(
        0.75 * np.pi * 0.006**2 * np.sqrt(2 * 9.80665 * 30) * 1000
    )


def test_incipient_leak_ramps_and_repair_stops_it():
    leak = Leak("p257", 0.015, start_s=3600, peak_s=3 * 3600, end_s=5 * 3600)
    assert leak.kind == "incipient"
    with Engine(LTOWN, flow_change_m3s=1e-6) as engine:
        engine.add_leak(leak)
        flow = engine.run(6 * 3600).leak_m3s["p257"].to_numpy()
    hour = 12  # 5-minute steps
    assert flow[hour] == 0.0
    assert 0 < flow[2 * hour] < flow[3 * hour - 1] < flow[4 * hour]
    assert flow[5 * hour] == 0.0 and flow[-1] == 0.0


def test_leak_lowers_pressure_nearby():
    with Engine(LTOWN) as engine:
        node = engine.add_leak_node("p257")
        base = engine.solve_snapshot()
        engine.set_emitter(node, orifice_coefficient(0.03))
        leaky = engine.solve_snapshot()
    i = engine.node_ids.index(node)
    drop = base.pressure_m - leaky.pressure_m
    assert drop[i] > 0.5
    assert drop[i] == pytest.approx(drop.max())


def test_split_pipe_keeps_hydraulics():
    with Engine(LTOWN) as engine:
        before = engine.solve_snapshot()
        ids = list(engine.node_ids)
        engine.add_leak_node("p257")
        after = engine.solve_snapshot()
    idx = [engine.node_ids.index(n) for n in ids]
    np.testing.assert_allclose(after.pressure_m[idx], before.pressure_m, atol=1e-3)


def test_changes_between_runs_take_effect():
    with Engine(NET1) as engine:
        base = engine.solve_snapshot()
        engine.set_base_demand("22", engine.get_base_demand("22") * 5)
        more = engine.solve_snapshot()
        engine.set_base_demand("22", engine.get_base_demand("22") / 5)
        engine.set_link_status("9", False)  # the pump
        engine.set_link_status("9", True)
        again = engine.solve_snapshot()
    i = engine.node_ids.index("22")
    assert more.pressure_m[i] < base.pressure_m[i] - 0.1
    np.testing.assert_allclose(again.pressure_m, base.pressure_m, atol=1e-3)


def test_valve_setting_changes_downstream_pressure():
    with Engine(LTOWN) as engine:
        base = engine.solve_snapshot()
        engine.set_valve_setting("PRV-3", 30.0)
        lower = engine.solve_snapshot()
    i = engine.node_ids.index("n226")
    assert lower.pressure_m[i] < base.pressure_m[i] - 1.0


def test_pda_cuts_demand_at_low_pressure():
    with Engine(NET1, pda=PDA(0.0, 200.0)) as engine:
        snap = engine.solve_snapshot()
    with Engine(NET1) as engine:
        dda = engine.solve_snapshot()
    i = engine.node_ids.index("22")
    assert 0 < snap.demand_m3s[i] < dda.demand_m3s[i]


def test_engines_run_side_by_side():
    """Independent sessions (threads included) give identical results: no shared scratch files."""
    with Engine(NET3) as single:
        expected = single.run().pressure_m.to_numpy()
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        with Engine(NET3) as engine:
            results[k] = engine.run().pressure_m.to_numpy()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        np.testing.assert_allclose(results[k], expected)
    a, b = Engine(NET1), Engine(NET1)
    try:
        assert a._tmp != b._tmp
        a.set_emitter("22", 0.01)
        pa, pb = a.solve_snapshot(), b.solve_snapshot()
        assert not np.allclose(pa.pressure_m, pb.pressure_m)
    finally:
        a.close()
        b.close()


def test_errors():
    with Engine(NET1) as engine:
        with pytest.raises(InputError, match="unknown node 'nope'"):
            engine.set_emitter("nope", 1.0)
        with pytest.raises(InputError, match="not a pipe"):
            engine.add_leak_node("9")
    with pytest.raises(InputError):
        Leak("p1", diameter_m=-0.01, start_s=0)


def test_run_that_stops_early_raises(tmp_path):
    """A network EPANET cannot balance (Unbalanced STOP) must not pass silently."""
    text = re.sub(r"(?im)^\s*trials\s+\d+", " Trials 1", NET1.read_text())
    text = re.sub(r"(?im)^\s*unbalanced\s+.*$", " Unbalanced STOP", text)
    assert "Unbalanced STOP" in text
    path = tmp_path / "stop.inp"
    path.write_text(text)
    with Engine(path) as engine, pytest.raises(SimulationError):
        engine.run()


def test_many_leak_nodes_at_once_and_snapshot_emitter_flow():
    pipes = ["p257", "p1", "p300", "p301"]
    with Engine(LTOWN) as engine:
        base = engine.solve_snapshot()
        nodes = engine.add_leak_nodes(pipes)
        assert nodes == [f"{p}__leak" for p in pipes]
        assert engine.add_leak_nodes(["p257"]) == ["p257__leak"]  # already split: nothing new
        assert len(engine.node_ids) == len(base.pressure_m) + 4
        engine.set_emitter(nodes[0], orifice_coefficient(0.012))
        snap = engine.solve_snapshot()
    i = engine.node_ids.index(nodes[0])
    assert snap.emitter_m3s[i] == pytest.approx(orifice_flow(0.012, snap.pressure_m[i]), rel=0.01)
    assert np.count_nonzero(snap.emitter_m3s) == 1
