"""Capacity at a node: hand-checkable single pipes, Net3 against wntr's EPANET run, L-Town, bad input."""

from __future__ import annotations

import json
import math
import time

import pytest
import wntr
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_run import FIXTURES, tirta
from helpers import LTOWN, NET3
from tirta.errors import InputError, SimulationError
from tirta.hydraulics import Engine
from tirta.planning import capacity, capacity_naive, day_state
from tirta.planning.capacity import find_capacity

# single pipe: reservoir head 50 m, junction at 10 m, L = 1000 m, D = 0.2 m; residual 10 m → hf = 30 m
HEAD, ELEV, LENGTH, DIAM, RESIDUAL = 50.0, 10.0, 1000.0, 0.2, 10.0
HF = HEAD - ELEV - RESIDUAL


def hazen_williams_q(hf: float, c: float = 120.0) -> float:
    """Q (m³/s) from hf = 10.667·L·Q^1.852 / (C^1.852·D^4.871) (SI Hazen-Williams)."""
    return (hf * c**1.852 * DIAM**4.871 / (10.667 * LENGTH)) ** (1 / 1.852)


def darcy_q(hf: float, eps_m: float = 0.1e-3, nu: float = 1.0e-6) -> float:
    """Q (m³/s) from Darcy-Weisbach with the Colebrook-White friction factor, by fixed point."""
    g, area, f = 9.81, math.pi * DIAM**2 / 4, 0.02
    for _ in range(100):
        v = math.sqrt(hf * DIAM * 2 * g / (f * LENGTH))
        re = v * DIAM / nu
        f = (-2 * math.log10(eps_m / (3.7 * DIAM) + 2.51 / (re * math.sqrt(f)))) ** -2
    return v * area


def test_single_pipe_hazen_williams_matches_the_head_loss_formula():
    q = hazen_williams_q(HF)  # 0.0730 m³/s
    cap = capacity(FIXTURES / "single_pipe_hw.inp", "J1", residual_m=RESIDUAL)
    assert cap.static_pressure_m == pytest.approx(40.0, abs=1e-6)
    assert cap.extra_demand_m3s == pytest.approx(q, rel=0.01)
    assert cap.pressure_m >= RESIDUAL and cap.upper_m3s - cap.extra_demand_m3s <= 0.01 * cap.upper_m3s
    assert cap.extra_demand_m3s <= q * 1.002 <= cap.upper_m3s * 1.004


def test_single_pipe_darcy_weisbach_matches_colebrook():
    cap = capacity(FIXTURES / "single_pipe_dw.inp", "J1", residual_m=RESIDUAL)
    assert cap.extra_demand_m3s == pytest.approx(darcy_q(HF), rel=0.01)


def test_residual_above_static_pressure_gives_zero():
    cap = capacity(FIXTURES / "single_pipe_hw.inp", "J1", residual_m=45.0)
    assert cap.extra_demand_m3s == 0.0 and cap.pressure_m == pytest.approx(40.0)


def test_search_is_within_tolerance_on_a_known_curve():
    calls = []

    def p(q: float) -> float:
        calls.append(q)
        return 60.0 - 2500.0 * q**2  # pump-like curve, not the power the secant assumes

    q, pq, p0, _top = find_capacity(p, 20.0, rel_tol=0.001)
    assert q == pytest.approx(math.sqrt(40 / 2500), rel=0.001) and pq >= 20.0 and p0 == 60.0
    assert len(calls) < 15


def test_net3_capacity_checked_by_wntr_epanet_run():
    cap = capacity(NET3, "123", residual_m=14.0)  # US fire-flow residual, 20 psi ≈ 14 m
    with Engine(NET3) as engine:
        state = day_state(engine)
    assert cap.hour == state.peak_hour

    def wntr_pressure(extra_m3s: float) -> float:
        wn = wntr.network.WaterNetworkModel(str(NET3))
        for tank, levels in state.tank_levels_m.items():
            wn.get_node(tank).init_level = float(levels[cap.hour])
        wn.options.time.duration = 0
        wn.options.time.pattern_start = cap.hour * 3600
        wn.get_node("123").add_demand(extra_m3s, None)
        res = wntr.sim.EpanetSimulator(wn).run_sim()
        return float(res.node["pressure"]["123"].iloc[0])

    assert wntr_pressure(cap.extra_demand_m3s) >= 14.0 - 0.05
    assert wntr_pressure(cap.extra_demand_m3s * 1.02) < 14.0


def test_naive_bisection_agrees_within_one_percent():
    fast = capacity(FIXTURES / "single_pipe_hw.inp", "J1")
    naive = capacity_naive(FIXTURES / "single_pipe_hw.inp", "J1")
    assert naive.extra_demand_m3s == pytest.approx(fast.extra_demand_m3s, rel=0.01)
    assert naive.trials > fast.trials


def test_unknown_node_and_tank_are_input_errors():
    with pytest.raises(InputError) as exc:
        capacity(NET3, "nope")
    assert exc.value.field == "node" and exc.value.file == str(NET3)
    with pytest.raises(InputError, match="tank or reservoir"):
        capacity(NET3, "1")


@pytest.mark.slow
def test_cli_capacity_ltown_contract():
    start = time.monotonic()
    out = tirta("plan", "capacity", LTOWN, "n54", "--residual", "10", "--json")
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"node", "hour", "extra_demand_lps", "pressure_m"} <= set(data)
    assert data["node"] == "n54" and 0 <= data["hour"] <= 23
    assert data["pressure_m"] >= 10.0 and 50 < data["extra_demand_lps"] < 500
    assert elapsed < 60  # includes starting Python on a shared machine
    at_three = json.loads(tirta("plan", "capacity", LTOWN, "n54", "--hour", "3", "--json").stdout)
    assert at_three["hour"] == 3 and at_three["extra_demand_lps"] > data["extra_demand_lps"]


@pytest.mark.slow
def test_cli_unknown_node_one_line_exit_2():
    out = tirta("plan", "capacity", FIXTURES / "single_pipe_hw.inp", "J9", "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "single_pipe_hw.inp" in lines[0]
    assert "field 'node'" in lines[0] and "J9" in lines[0]


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(15.0, 150.0),
    k=st.floats(1.0, 1e5),
    n=st.floats(1.5, 2.5),
    residual=st.floats(0.0, 14.0),
)
def test_search_closes_on_any_head_loss_curve(a, k, n, residual):
    calls = []

    def p(q: float) -> float:
        calls.append(q)
        return a - k * q**n

    q, pq, _p0, top = find_capacity(p, residual, rel_tol=0.002)
    exact = ((a - residual) / k) ** (1 / n)
    assert pq >= residual and q <= exact <= top and top - q <= 0.002 * top
    assert len(calls) <= 30


def test_search_that_cannot_close_is_an_error():
    with pytest.raises(SimulationError):
        find_capacity(
            lambda q: 50.0 if q < 1e-3 else (5.0 if q > 1e-3 + 1e-15 else 50.0), 10.0, rel_tol=1e-20
        )


def test_hydrant_flow_test_extrapolation_agrees():
    """coverage.md §6.3 [P]: Q_R = Q_T·((P_S − P_R)/(P_S − P_T))^0.54 from one flow test (Hazen-Williams)."""
    from tirta.planning.capacity import _Probe

    with Engine(FIXTURES / "single_pipe_hw.inp") as engine:
        probe = _Probe(engine, "J1", 0, day_state(engine))
        p_static, q_test = probe.pressure(0.0), 0.040
        p_test = probe.pressure(q_test)
    q_iso = q_test * ((p_static - RESIDUAL) / (p_static - p_test)) ** 0.54
    cap = capacity(FIXTURES / "single_pipe_hw.inp", "J1", residual_m=RESIDUAL)
    assert cap.extra_demand_m3s == pytest.approx(q_iso, rel=0.01)
