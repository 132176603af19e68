"""Extensions and pressure management: hand-checked single pipes, Net3 and L-Town, bad input."""

from __future__ import annotations

import json

import pytest

from cli_run import FIXTURES, tirta
from helpers import LTOWN, NET3
from tirta.errors import InputError
from tirta.network import load_network
from tirta.planning.design import STANDARD_DIAMETERS_MM, Connection, DemandDesign, NewPipe
from tirta.planning.extension import extend
from tirta.planning.pressure import pressure_management

HW_K = 10.667  # SI Hazen-Williams: hf = 10.667·L·Q^1.852 / (C^1.852·D^4.871)


def hw_loss(q: float, length: float, d: float, c: float) -> float:
    return HW_K * length * q**1.852 / (c**1.852 * d**4.871)


@pytest.fixture(scope="module")
def pipe_net():
    return load_network(FIXTURES / "single_pipe_hw.inp")


def test_design_demand_is_households_times_use():
    # 1000 households × 4.5 persons × 150 L/d × 1.5 = 1,012,500 L/d = 11.72 L/s
    assert DemandDesign().demand_m3s(1000) == pytest.approx(1_012_500 / 86_400 / 1000)


def test_single_pipe_connection_pressure_from_head_loss(pipe_net):
    ext = extend(pipe_net, [Connection("J1", 2000)])  # no pattern: constant 23.4 L/s all day
    q = DemandDesign().demand_m3s(2000)
    expected = 40.0 - hw_loss(q, 1000.0, 0.2, 120.0)
    assert ext.min_pressure_m == pytest.approx(expected, abs=0.05)
    assert ext.nodes_below_min == [] and ext.demand_shortfall_pct == pytest.approx(0.0, abs=1e-6)
    assert ext.max_velocity_m_s == pytest.approx(q / (3.14159265 * 0.01), rel=1e-3)


def test_single_pipe_overloaded_falls_short(pipe_net):
    # 8000 households want 93.75 L/s; the pipe carries 73 L/s at 10 m: pressure-driven run delivers less
    ext = extend(pipe_net, [Connection("J1", 8000)])
    assert ext.nodes_below_min == ["J1"] and ext.critical_node == "J1"
    assert 5.0 < ext.demand_shortfall_pct < 100.0
    assert ext.new_nodes_shortfall_pct == pytest.approx(ext.demand_shortfall_pct)


def test_new_pipe_gets_the_smallest_standard_diameter_by_hand(pipe_net):
    households, length = 1500, 600.0
    q = DemandDesign().demand_m3s(households)
    ok = [
        d
        for d in STANDARD_DIAMETERS_MM
        if 40.0 - hw_loss(q, 1000, 0.2, 120) - hw_loss(q, length, d / 1000, 130) >= 10.0
    ]
    ext = extend(pipe_net, [], NewPipe("J1", length, households))
    assert ext.new_pipe is not None
    assert ext.new_pipe["smallest_standard_diameter_mm"] == ok[0]
    assert ext.new_pipe["end_min_pressure_m"] >= 10.0
    forced = extend(pipe_net, [], NewPipe("J1", length, households, diameter_m=0.05))
    assert forced.new_pipe is not None and forced.new_pipe["diameter_mm"] == 50
    assert "J1__ext" in forced.nodes_below_min


def test_nothing_to_connect_is_an_input_error(pipe_net):
    with pytest.raises(InputError) as exc:
        extend(pipe_net, [])
    assert exc.value.field == "connect"


def test_net3_extension_reports_tanks():
    ext = extend(load_network(NET3), [Connection("123", 500), Connection("121", 300)])
    assert {t["tank"] for t in ext.tanks} == {"1", "2", "3"}
    assert ext.max_velocity_m_s > 0 and ext.new_demand_m3s == pytest.approx(
        DemandDesign().demand_m3s(800)
    )


@pytest.mark.slow
def test_cli_extend_ltown_contract():
    out = tirta("plan", "extend", LTOWN, "--connect", "n54:20000", "--connect", "n60:10", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in (
        "min_pressure_m",
        "critical_node",
        "nodes_below_min",
        "demand_shortfall_pct",
        "max_velocity_m_s",
    ):
        assert key in data
    # 20,000 households want 234 L/s at n54, twice its 10-m capacity (≈108 L/s at the peak hour)
    assert "n54" in data["nodes_below_min"] and data["demand_shortfall_pct"] > 0
    assert data["nodes_below_min_before"] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--connect", "n54:-5"], "households"),
        (["--connect", "nope:5"], "node"),
        (["--connect", "n54"], "connect"),
        (["--connect", "n54:5", "--lpcd", "-1"], "lpcd"),
    ],
)
def test_cli_extend_bad_input(args, field):
    out = tirta("plan", "extend", LTOWN, *args, "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"field '{field}'" in lines[0], out.stderr


def test_favad_reference_case_through_a_source_head_change():
    """Reference-cases §1.6 [D]: 13.6 m³/h at 35 m, pressure to 28 m, N1 = 1.15 → 10.52 m³/h (±0.01)."""
    net = load_network(FIXTURES / "single_pipe_pm.inp")  # reservoir 45 m, junction at 10 m: 35 m
    change = pressure_management(net, {}, {"R1": 38.0}, n1=1.15, leakage_m3h=13.6)
    out = change.as_dict()
    assert change.azp_before_m == pytest.approx(35.0, abs=0.01)
    assert change.azp_after_m == pytest.approx(28.0, abs=0.01)
    assert out["leakage_after_m3h"] == pytest.approx(10.52, abs=0.01)


def test_ltown_prv_lowering_cuts_pressure_and_leakage():
    change = pressure_management(load_network(LTOWN), {"PRV-1": 35.0, "PRV-2": 45.0})
    assert change.azp_after_m < change.azp_before_m
    assert -20 < change.leakage_change_pct < 0
    assert change.compliance_after_pct == pytest.approx(100.0)
    with pytest.raises(InputError) as exc:
        pressure_management(load_network(LTOWN), {"p257": 30.0})
    assert exc.value.field == "prv"


@pytest.mark.slow
def test_cli_pressure_management_json():
    out = tirta(
        "plan",
        "pressure",
        FIXTURES / "single_pipe_pm.inp",
        "--source-head",
        "R1:38",
        "--n1",
        "1.15",
        "--leakage-m3h",
        "13.6",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["leakage_after_m3h"] == pytest.approx(10.52, abs=0.01)
    bad = tirta("plan", "pressure", FIXTURES / "single_pipe_pm.inp", "--prv", "P1:20", "--json")
    assert bad.returncode == 2 and "field 'prv'" in bad.stderr
