"""Coverage by district: Jakarta arithmetic, JMP shares, projections, GeoJSON with a CRS, ranking, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cli_run import tirta
from tirta.coverage import coverage_report, load_districts, locate, project
from tirta.coverage.metrics import coverage_by_year
from tirta.errors import InputError
from tirta.network import load_network

DATA = Path(__file__).parents[2] / "src" / "tirta" / "data" / "coverage"

# PAM Jaya (coverage.md §3 [P]): 1,178,022 connections and 80.24 % coverage at the end of 2025,
# +206,537 connections in 2025; target 100 % by 2030. Persons per connection 4.5 is an assumption here.
JAKARTA_CONN_2025, JAKARTA_ADDED_2025, JAKARTA_COV_2025 = 1_178_022, 206_537, 80.24


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def jakarta(tmp_path: Path) -> Path:
    pop = JAKARTA_CONN_2025 * 4.5 / (JAKARTA_COV_2025 / 100)
    return write(
        tmp_path,
        "district,year,population,household_size,piped_connections\n"
        f"Jakarta,2024,{pop:.0f},4.5,{JAKARTA_CONN_2025 - JAKARTA_ADDED_2025}\n"
        f"Jakarta,2025,{pop:.0f},4.5,{JAKARTA_CONN_2025}\n",
    )


def test_jakarta_connections_needed_for_100_pct_by_2030(jakarta):
    """[D] 1,178,022 × (100/80.24 − 1) = 290,076 more connections over 5 years → 58,015 a year."""
    p = project(load_districts(jakarta).table, target_pct=100, target_year=2030).loc["Jakarta"]
    assert p["coverage_pct"] == pytest.approx(80.24, abs=0.005)
    assert p["connections_needed_per_year"] == pytest.approx(58_015, rel=0.001)
    assert p["connections_per_year"] == pytest.approx(206_537, rel=1e-6)
    # at 2025's pace the target falls in 2026: 290,076 / 206,537 = 1.40 years after 2025
    assert p["target_reached_year"] == pytest.approx(2026.40, abs=0.01)
    assert p["projected_coverage_pct"] == 100.0


@pytest.mark.slow
def test_cli_report_json_contract(jakarta):
    out = tirta("coverage", "report", jakarta, "--target-pct", "100", "--target-year", "2030", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    row = data["districts"][0]
    assert {"coverage_pct", "unserved_population", "connections_needed_per_year"} <= set(row)
    assert row["connections_needed_per_year"] == pytest.approx(58_015, rel=0.001)
    assert data["totals"]["coverage_pct"] == pytest.approx(80.24, abs=0.005)
    assert data["totals"]["unserved_population"] == pytest.approx(row["unserved_population"])
    # supply side: 1,305,5xx unserved × 150 L/d × 1.5 / 86,400 s ≈ 3,400 L/s of new peak demand
    assert data["totals"]["unserved_peak_demand_lps"] == pytest.approx(
        row["unserved_population"] * 150 * 1.5 / 86_400, rel=1e-3
    )


def test_persons_per_connection_and_public_taps(tmp_path):
    path = write(
        tmp_path,
        "district,population,household_size,piped_connections,persons_per_connection,public_tap_users,"
        "pop_limited,pop_surface_water\n"
        "Flats,10000,4,100,60,500,1000,10000\n",
    )
    t = coverage_by_year(load_districts(path).table).iloc[0]
    assert t["served_population"] == 6500  # 100 bulk connections × 60 + 500 tap users
    assert t["coverage_pct"] == pytest.approx(65.0)
    assert t["piped_on_premises_pct"] == pytest.approx(60.0) and t["basic_pct"] == pytest.approx(5.0)
    assert t["limited_pct"] == pytest.approx(10.0) and t["surface_water_pct"] == pytest.approx(25.0)
    assert t["unknown_pct"] == pytest.approx(0.0) and bool(t["sources_exceed_population"])


def test_single_year_needs_rate_but_no_trend(tmp_path):
    path = write(tmp_path, "district,population,household_size,piped_connections\nA,1000,5,100\n")
    rep = coverage_report(load_districts(path), target_pct=90, target_year=2030)
    row = rep.as_dict()["districts"][0]
    assert row["year"] == 2025 and row["coverage_pct"] == 50.0
    assert row["connections_needed_per_year"] == pytest.approx((900 / 5 - 100) / 5)
    assert row["projected_coverage_pct"] is None and any("single year" in w for w in rep.warnings)


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (
            "district,population,household_size,piped_connections\nA,1000,5,100\nB,,5,10\n",
            3,
            "population",
        ),
        ("district,population,household_size,piped_connections\nA,0,5,100\n", 2, "population"),
        (
            "district,population,household_size,piped_connections,households\nA,10,5,1,-3\n",
            2,
            "households",
        ),
        ("district,population,household_size,piped_connections\nA,10,5,-1\n", 2, "piped_connections"),
        ("district,population,household_size\nA,10,5\n", 1, "piped_connections"),
        ("district,population,household_size,piped_connections\n,10,5,1\n", 2, "district"),
        ("district,population,household_size,piped_connections,year\nA,10,5,1,20x5\n", 2, "year"),
    ],
)
def test_bad_rows_name_line_and_field(tmp_path, text, line, field):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_districts(path)
    assert (exc.value.file, exc.value.line, exc.value.field) == (str(path), line, field)


@pytest.mark.slow
def test_cli_district_without_population_one_line_exit_2(tmp_path):
    path = write(
        tmp_path, "district,population,household_size,piped_connections\nA,1000,5,100\nB,,5,10\n"
    )
    out = tirta("coverage", "report", path, "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == (
        f"error: {path}:3: field 'population': district 'B' has no population (must be > 0)"
    )


def test_sample_geojson_keeps_geometry_and_crs():
    d = load_districts(DATA / "l-town-districts.geojson")
    assert d.crs == "tirta:model" and len(d.geometry) == 10
    assert set(d.table["year"]) == {2021, 2022, 2023, 2024, 2025}
    latest = d.latest
    assert latest.loc["Cempaka", "x"] == pytest.approx(450.0) and latest.loc[
        "Cempaka", "y"
    ] == pytest.approx(425.0)


def test_geojson_needs_a_crs_and_reprojects(tmp_path):
    feat = {
        "type": "Feature",
        "properties": {
            "district": "Menteng",
            "population": 100,
            "household_size": 4,
            "piped_connections": 10,
        },
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[106.82, -6.20], [106.84, -6.20], [106.84, -6.18], [106.82, -6.18], [106.82, -6.20]]
            ],
        },
    }
    bare = write(tmp_path, json.dumps({"type": "FeatureCollection", "features": [feat]}), "a.geojson")
    with pytest.raises(InputError) as exc:
        load_districts(bare)
    assert exc.value.field == "crs"
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:4326"}},
        "features": [feat],
    }
    d = load_districts(write(tmp_path, json.dumps(fc), "b.geojson"))
    net = load_network("l-town")
    with pytest.raises(InputError, match="declares no CRS"):
        locate(d, net)
    # L-Town placed (for this test only) in UTM 48S: the district's centre is then far from every node
    site = locate(d, net, network_crs="EPSG:32748")["Menteng"]
    assert site.distance_m > 1e5 and not math.isnan(site.distance_m)


@pytest.mark.slow
def test_sample_ranking_on_ltown():
    d = load_districts(DATA / "l-town-districts.geojson")
    rep = coverage_report(d, net=load_network("l-town"))
    ranking = rep.ranking.set_index("district")
    assert len(ranking) == 10 and list(rep.ranking["rank"]) == list(range(1, 11))
    # districts over the network are at distance 0; the peri-urban ones are hundreds of metres away
    assert ranking.loc["Cempaka", "distance_m"] == 0.0
    assert 100 < ranking.loc["Bukit (peri-urban)", "distance_m"] < 2000
    assert (ranking["headroom_lps"] > 0).all()
    assert rep.ranking["priority"].is_monotonic_decreasing
    assert rep.ranking.iloc[-1]["district"] == "Cempaka"  # least unserved, fully inside the network


def test_unknown_node_in_districts_file(tmp_path):
    path = write(
        tmp_path, "district,population,household_size,piped_connections,node,x,y\nA,10,5,1,n999,0,0\n"
    )
    with pytest.raises(InputError) as exc:
        locate(load_districts(path), load_network("l-town"))
    assert (exc.value.line, exc.value.field) == (2, "node")


@pytest.mark.slow
def test_cli_reprojects_districts_to_the_network_crs_of_its_dma_file(tmp_path):
    """L-Town declared (for this test) in UTM 48S by its DMA file; districts drawn in longitude/latitude."""
    import shutil

    from pyproj import Transformer

    from tirta.network.model import builtin_network_path

    inp = builtin_network_path("l-town")
    shutil.copy(inp, tmp_path / "L-TOWN.inp")
    toml = inp.with_name("L-TOWN.dmas.toml").read_text(encoding="utf-8")
    (tmp_path / "L-TOWN.dmas.toml").write_text(
        toml.replace('name = "A"', 'name = "A"\ncrs = "EPSG:32748"', 1)
    )
    to_lonlat = Transformer.from_crs("EPSG:32748", "EPSG:4326", always_xy=True)

    def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        return [list(to_lonlat.transform(x, y)) for x, y in corners]

    feats = [
        {
            "type": "Feature",
            "properties": {
                "district": name,
                "population": 1000,
                "household_size": 5,
                "piped_connections": 100,
            },
            "geometry": {"type": "Polygon", "coordinates": [square(*box)]},
        }
        for name, box in (("inside", (100, 50, 900, 800)), ("outside", (4000, 4000, 4500, 4500)))
    ]
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:4326"}},
        "features": feats,
    }
    path = write(tmp_path, json.dumps(fc), "d.geojson")
    out = tirta("coverage", "report", path, "--network", tmp_path / "L-TOWN.inp", "--json")
    assert out.returncode == 0, out.stderr
    ranking = {r["district"]: r for r in json.loads(out.stdout)["ranking"]}
    assert ranking["inside"]["distance_m"] == 0.0
    # nearest L-Town node to (4250, 4250) is about 2.6 km away (the network ends near x 2835, y 1618)
    assert 2000 < ranking["outside"]["distance_m"] < 4000
