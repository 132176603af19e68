from __future__ import annotations

import json

import pytest

from helpers import BAD, LTOWN
from tirta.errors import InputError, UnitError
from tirta.network import load_dmas, load_network, load_sensors
from tirta.network.dma import node_to_dma
from tirta.network.sensors import battledim_sensor_id


@pytest.fixture(scope="module")
def ltown():
    return load_network(LTOWN)


def test_ltown_dmas(ltown):
    dmas = load_dmas(LTOWN.with_name("L-TOWN.dmas.toml"), ltown)
    assert [d.name for d in dmas] == ["A", "B", "C"]
    sizes = {d.name: len(d.nodes) for d in dmas}
    assert sizes == {"A": 659, "B": 31, "C": 92}
    assert sum(sizes.values()) == 782  # every junction in exactly one area
    assert len(node_to_dma(dmas)) == 782
    assert dmas[0].inlets == ("p227", "p235")
    assert sum(d.mains_length_km for d in dmas) == pytest.approx(43.07, abs=0.05)


def test_dma_polygon_geojson(tmp_path, ltown):
    xy = ltown.nodes[["x", "y"]]
    box = [
        [xy.x.min() - 1, xy.y.min() - 1],
        [xy.x.max() + 1, xy.y.min() - 1],
        [xy.x.max() + 1, xy.y.max() + 1],
        [xy.x.min() - 1, xy.y.max() + 1],
    ]
    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "all", "inlets": ["p227"], "connections": 10},
                "geometry": {"type": "Polygon", "coordinates": [box]},
            }
        ],
    }
    path = tmp_path / "dmas.geojson"
    path.write_text(json.dumps(geo))
    (dma,) = load_dmas(path, ltown)
    assert len(dma.nodes) == len(ltown.nodes)
    assert dma.mains_length_km == pytest.approx(ltown.mains_length_km)


def test_dma_errors(tmp_path, ltown):
    bad = tmp_path / "d.toml"
    bad.write_text('[[dma]]\nname = "X"\nnodes = ["n1", "nope"]\n')
    with pytest.raises(InputError, match="unknown node 'nope'") as info:
        load_dmas(bad, ltown)
    assert info.value.field == "nodes"
    bad.write_text('[[dma]]\nname = "X"\nnodes = ["n1"]\nconnections = -3\n')
    with pytest.raises(InputError, match="must not be negative") as info:
        load_dmas(bad)
    assert info.value.field == "connections"


def test_battledim_sensor_set(ltown):
    reg = load_sensors(LTOWN.with_name("sensors.json"), ltown)
    assert reg.counts() == {"pressure": 33, "flow": 3, "level": 1, "demand": 82}
    assert reg["n1"].kind == "pressure" and reg["n1"].node == "n1"
    amr = reg[battledim_sensor_id("demand", "n1")]
    assert amr.kind == "demand" and amr.node == "n1" and amr.unit == "L/h"
    assert reg["p227"].link == "p227" and reg["p227"].to_si(3600.0) == pytest.approx(1.0)
    assert reg.to_battledim()["amrs"][0] == "n1"


def test_sensor_csv_and_toml(tmp_path, ltown):
    csv_path = tmp_path / "s.csv"
    csv_path.write_text(
        "id,kind,node,link,unit,min,max,installed\nP1,pressure,n1,,bar,0,10,2020-01-01\n"
        "Q1,flow,,p227,L/s,,,\n"
    )
    reg = load_sensors(csv_path, ltown)
    assert reg["P1"].to_si(1.0) == pytest.approx(10.197, abs=1e-3)
    assert reg["P1"].valid_max == 10.0
    assert reg["Q1"].link == "p227"
    toml_path = tmp_path / "s.toml"
    toml_path.write_text('[[sensor]]\nid = "L1"\nkind = "level"\nnode = "T1"\nunit = "cm"\n')
    assert load_sensors(toml_path, ltown)["L1"].to_si(250.0) == pytest.approx(2.5)


def test_sensor_unknown_node_names_file_line_field():
    net = load_network(BAD / "problems.inp")
    with pytest.raises(InputError) as info:
        load_sensors(BAD / "sensors_unknown_node.csv", net)
    assert info.value.line == 3 and info.value.field == "node"
    assert "unknown node 'J42'" in str(info.value)
    with pytest.raises(InputError) as info:
        load_sensors(BAD / "sensors_battledim_unknown.json", net)
    assert info.value.line == 5 and "J77" in str(info.value)


def test_sensor_unknown_unit():
    with pytest.raises(UnitError) as info:
        load_sensors(BAD / "sensors_unknown_unit.csv")
    assert info.value.line == 3 and info.value.field == "unit"
    assert "furlongs/fortnight" in str(info.value)
