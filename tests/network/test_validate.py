"""DMA boundaries and the sensor registry checked against the model, and reported by ``network info``."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from helpers import LTOWN, NET1
from tirta.cli import app
from tirta.network import load_dmas, load_network, load_sensors
from tirta.network.validate import dma_problems, sensor_problems

NET1_JUNCTIONS = ["10", "11", "12", "13", "21", "22", "23", "31", "32"]


@pytest.fixture(scope="module")
def ltown():
    return load_network(LTOWN)


@pytest.fixture(scope="module")
def net1():
    return load_network(NET1)


def _toml(path, name, nodes, inlets, outlets=()):
    path.write_text(
        f'[[dma]]\nname = "{name}"\nnodes = {json.dumps(list(nodes))}\n'
        f"inlets = {json.dumps(list(inlets))}\noutlets = {json.dumps(list(outlets))}\n"
    )
    return path


def test_ltown_dmas_have_no_boundary_problem(ltown):
    """A through a reservoir pipe, B behind PRV-3, C fed by PUMP_1 through tank T1: all consistent."""
    dmas = load_dmas(LTOWN.with_name("L-TOWN.dmas.toml"), ltown)
    assert dma_problems(dmas, ltown) == []


def test_pump_inside_the_dma_and_a_missing_boundary_pipe(net1, tmp_path):
    # the whole town with its pump's suction (reservoir 9) inside, and no meter on pipe 110 to tank 2
    path = _toml(tmp_path / "d.toml", "town", ["9", *NET1_JUNCTIONS], ["9"])
    problems = {p.kind: p for p in dma_problems(load_dmas(path, net1), net1)}
    assert problems["dma_inlet_not_on_boundary"].elements == ("9",)
    assert "inside the DMA" in problems["dma_inlet_not_on_boundary"].message
    assert problems["dma_unmetered_boundary"].elements == ("110",)
    assert "pipe '110' (2 → 12)" in problems["dma_unmetered_boundary"].message


def test_pump_declared_the_wrong_way_and_overlap(ltown):
    dmas = load_dmas(LTOWN.with_name("L-TOWN.dmas.toml"), ltown)
    a, b, c = dmas
    swapped = replace(a, inlets=("p227", "p235", "PUMP_1"), outlets=("PRV-3",))
    overlap = replace(b, nodes=(*b.nodes, a.nodes[0]))
    problems = {p.kind: p for p in dma_problems([swapped, overlap, c], ltown)}
    assert problems["dma_inlet_direction"].elements == ("PUMP_1",)
    assert "pumps out of the DMA" in problems["dma_inlet_direction"].message
    assert problems["dma_overlap"].elements == (a.nodes[0],)


def test_one_meter_of_two_is_reported(ltown):
    """The balance of A used p227 alone: p235 from reservoir R2 is then an unmetered boundary."""
    a = load_dmas(LTOWN.with_name("L-TOWN.dmas.toml"), ltown)[0]
    (problem,) = dma_problems([replace(a, inlets=("p227",))], ltown)
    assert problem.kind == "dma_unmetered_boundary" and problem.elements == ("p235",)


def test_sensor_registry_against_the_model(net1, tmp_path):
    path = tmp_path / "sensors.csv"
    path.write_text(
        "id,kind,node,link,dma\n"
        "p10,pressure,10,,\n"
        "ghost,pressure,J99,,\n"
        "110,pressure,,,\n"  # no node given: the id is the element, and 110 is a pipe
        "lvl,level,11,,\n"
        "lvl2,level,2,,\n"
        "q10,flow,,10,\n"
        "p12,pressure,12,,east\n"
    )
    registry = load_sensors(path)
    dmas = load_dmas(_toml(tmp_path / "d.toml", "west", NET1_JUNCTIONS, ["9"]), net1)
    problems = {p.kind: p for p in sensor_problems(registry, net1, dmas)}
    assert problems["sensor_unknown_element"].elements == ("ghost",)
    assert problems["sensor_wrong_element"].elements == ("110",)
    assert "a link of the model" in problems["sensor_wrong_element"].message
    assert problems["sensor_level_not_tank"].elements == ("lvl",)
    assert problems["sensor_dma_mismatch"].elements == ("p12",)
    assert set(problems) == {
        "sensor_unknown_element",
        "sensor_wrong_element",
        "sensor_level_not_tank",
        "sensor_dma_mismatch",
    }


def test_network_info_reports_dma_and_sensor_problems(tmp_path):
    model = tmp_path / "Net1.inp"
    model.write_text(NET1.read_text())
    _toml(tmp_path / "Net1.dmas.toml", "town", ["9", *NET1_JUNCTIONS], ["9"])
    (tmp_path / "sensors.json").write_text(
        json.dumps({"pressure_sensors": ["10", "J99"], "flow_sensors": ["12"], "level_sensors": ["2"]})
    )
    out = CliRunner().invoke(app, ["network", "info", str(model), "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.output)
    kinds = {p["kind"]: p for p in info["problems"]}
    assert kinds["dma_inlet_not_on_boundary"]["examples"] == ["9"]
    assert kinds["dma_unmetered_boundary"]["examples"] == ["110"]
    assert kinds["sensor_unknown_element"]["examples"] == ["J99"]
    assert info["sensors"]["pressure"] == 2 and info["sensors"]["level"] == 1
    text = CliRunner().invoke(app, ["network", "info", str(model)], terminal_width=200)
    assert text.exit_code == 0
    assert "dma_unmetered_boundary" in text.output and "sensor_unknown_element" in text.output
    assert "Sensors (" in text.output
