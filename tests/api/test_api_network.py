"""The network as GeoJSON in model coordinates: nodes, links, DMAs, pages."""

from __future__ import annotations

import pytest

from tirta.network import load_network
from tirta.network.model import builtin_network_path


@pytest.fixture(scope="module")
def ltown():
    return load_network(builtin_network_path("l-town"))


def test_nodes_are_points_at_model_coordinates(api, ltown):
    h = api.headers("viewer")
    first = api.client.get("/api/v1/network/nodes", params={"limit": 500}, headers=h).json()
    assert first["type"] == "FeatureCollection"
    assert first["total"] == len(ltown.nodes) and first["next_offset"] == 500
    rest = api.client.get(
        "/api/v1/network/nodes", params={"limit": 500, "offset": 500}, headers=h
    ).json()
    features = first["features"] + rest["features"]
    assert len(features) == len(ltown.nodes) and rest["next_offset"] is None
    by_id = {f["id"]: f for f in features}
    row = ltown.nodes.loc["n1"]
    assert by_id["n1"]["geometry"] == {"type": "Point", "coordinates": [row["x"], row["y"]]}
    assert by_id["n1"]["properties"]["elevation_m"] == pytest.approx(row["elevation_m"])


def test_links_join_their_end_nodes(api, ltown):
    out = api.client.get(
        "/api/v1/network/links", params={"limit": 10_000}, headers=api.headers("viewer")
    ).json()
    assert out["total"] == len(ltown.links)
    f = next(f for f in out["features"] if f["id"] == "p227")
    a = ltown.nodes.loc[ltown.links.loc["p227", "start_node"]]
    assert f["geometry"]["type"] == "LineString"
    assert f["geometry"]["coordinates"][0] == [a["x"], a["y"]]
    assert f["properties"]["length_m"] == pytest.approx(ltown.links.loc["p227", "length_m"])


def test_dmas_with_their_meters(api):
    out = api.client.get("/api/v1/network/dmas", headers=api.headers("viewer")).json()
    by_name = {f["id"]: f for f in out["features"]}
    assert set(by_name) == {"A", "B", "C"}
    assert by_name["A"]["properties"]["inlets"] == ["p227", "p235"]
    assert by_name["C"]["geometry"]["type"] == "MultiPoint"
    assert len(by_name["C"]["geometry"]["coordinates"]) == by_name["C"]["properties"]["nodes"]


def test_page_size_is_bounded(api):
    r = api.client.get("/api/v1/network/nodes", params={"limit": 0}, headers=api.headers("viewer"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit"
