from __future__ import annotations

import pytest

from helpers import BAD, LTOWN, NET1, NET3
from tirta.errors import InputError
from tirta.network import builtin_network_path, load_network


@pytest.mark.parametrize(
    ("path", "counts"),
    [
        (NET1, {"junctions": 9, "tanks": 1, "reservoirs": 1, "pipes": 12, "pumps": 1, "valves": 0}),
        (NET3, {"junctions": 92, "tanks": 3, "reservoirs": 2, "pipes": 117, "pumps": 2, "valves": 0}),
        (LTOWN, {"junctions": 782, "tanks": 1, "reservoirs": 2, "pipes": 905, "pumps": 1, "valves": 3}),
    ],
)
def test_networks_load_with_counts(path, counts):
    net = load_network(path)
    assert net.counts() == counts
    assert len(net.nodes) == counts["junctions"] + counts["tanks"] + counts["reservoirs"]


def test_ltown_is_si_and_43_km():
    net = load_network("l-town")
    assert net.path == builtin_network_path("l-town")
    assert net.mains_length_km == pytest.approx(43.16, abs=0.01)
    p1 = net.links.loc["p1"]
    assert p1["length_m"] == pytest.approx(26.9292)
    assert p1["diameter_m"] == pytest.approx(0.2)
    assert net.nodes.loc["T1", "type"] == "Tank"
    assert net.problems() == []


def test_net1_converted_from_us_units():
    net = load_network(NET1)
    pipe = net.links.loc["10"]
    assert pipe["length_m"] == pytest.approx(10530 * 0.3048)
    assert pipe["diameter_m"] == pytest.approx(18 * 0.0254)
    assert net.nodes.loc["10", "elevation_m"] == pytest.approx(710 * 0.3048)


def test_problems_are_reported():
    net = load_network(BAD / "problems.inp")
    kinds = {p.kind: p for p in net.problems()}
    assert kinds["disconnected"].elements == ("J3",)
    assert kinds["zero_length"].elements == ("P2",)
    assert set(kinds["missing_coordinates"].elements) == {"J2", "J3"}
    assert kinds["missing_pattern"].elements == ("J1",)
    assert "PX" in kinds["missing_pattern"].message


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("bad_number.inp", 6, "Elevation", "expected a number, got 'abc'"),
        ("unknown_node.inp", 7, "Node2", "unknown node 'J9'"),
        ("negative_length.inp", 8, "Length", "must not be negative"),
        ("too_few_fields.inp", 6, None, "expected at least 6 fields"),
    ],
)
def test_malformed_inp_names_file_line_field(name, line, field, words):
    with pytest.raises(InputError) as info:
        load_network(BAD / name)
    err = info.value
    assert err.file is not None and err.file.endswith(name)
    assert err.line == line
    assert err.field == field
    assert words in str(err)
    assert str(err).startswith(f"{err.file}:{line}: ")


def test_missing_file():
    with pytest.raises(InputError, match="not found"):
        load_network(BAD / "nope.inp")


def test_latin1_file_loads(tmp_path):
    text = NET1.read_text().replace("[TITLE]", "[TITLE]\nRéseau d'essai")
    path = tmp_path / "latin.inp"
    path.write_bytes(text.encode("latin-1"))
    assert load_network(path).counts()["junctions"] == 9


def test_graph_pipes_only_splits_ltown_into_zones():
    import networkx as nx

    net = load_network(LTOWN)
    assert nx.number_connected_components(net.graph()) == 1
    assert nx.number_connected_components(net.graph(pipes_only=True)) == 5
