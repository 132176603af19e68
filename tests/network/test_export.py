"""``tirta network export``: GeoJSON and GeoPackage files that GDAL opens with the right CRS and counts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import LTOWN, NET1, NET3
from tirta.leaks.events import open_event
from tirta.network import load_network
from tirta.telemetry.store import open_store

OGRINFO = shutil.which("ogrinfo")
needs_gdal = pytest.mark.skipif(
    OGRINFO is None and "CI" not in __import__("os").environ,
    reason="GDAL's ogrinfo not installed (Debian package gdal-bin; .ci/run installs it)",
)


def tirta(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tirta", *args], capture_output=True, text=True)


def ogr_summary(path: Path, layer: str) -> str:
    assert OGRINFO is not None, "ogrinfo missing: apt-get install gdal-bin"
    return subprocess.run(
        [OGRINFO, "-so", str(path), layer], capture_output=True, text=True, check=True
    ).stdout


@needs_gdal
def test_geopackage_opens_in_ogrinfo_with_crs_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "net3.gpkg"
    run = tirta(
        "network", "export", str(NET3), "--format", "gpkg", "--out", str(out), "--crs", "EPSG:32748"
    )
    assert run.returncode == 0, run.stderr
    net = load_network(NET3)
    counts = net.counts()
    for layer in ("junctions", "tanks", "reservoirs", "pipes", "pumps"):
        info = ogr_summary(out, layer)
        assert f"Feature Count: {counts[layer]}" in info, info
        assert 'ID["EPSG",32748]' in info, info
    pipes = ogr_summary(out, "pipes")
    assert "Geometry: Line String" in pipes
    for column in ("diameter_m", "length_m", "roughness", "headloss_formula", "start_node"):
        assert re.search(rf"^{column}: ", pipes, re.M), column
    junctions = ogr_summary(out, "junctions")
    assert "Geometry: Point" in junctions
    assert re.search(r"^base_demand_m3s: Real", junctions, re.M)


@needs_gdal
def test_geopackage_has_valves_dmas_and_events_layers(tmp_path: Path) -> None:
    """L-Town: valves with the unit of their setting, DMAs from the DMA file, events from a store."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    with open_store(url) as store:
        open_event(
            store,
            detected_at=pd.Timestamp("2019-03-01T06:00Z"),
            start=pd.Timestamp("2019-03-01T02:00Z"),
            size_lps=3.0,
            candidates=[{"pipe": "p257", "score": 1.0}, {"pipe": "p256", "score": 0.5}],
            dma="A",
            radius_m=120.0,
        )
    out = tmp_path / "ltown.gpkg"
    run = tirta("network", "export", str(LTOWN), "--format", "gpkg", "--out", str(out), "--store", url)
    assert run.returncode == 0, run.stderr
    assert "no CRS" in run.stderr  # L-Town's coordinates have none: said, not invented
    assert "Feature Count: 3" in ogr_summary(out, "valves")
    assert re.search(r"^setting_unit: String", ogr_summary(out, "valves"), re.M)
    dmas = ogr_summary(out, "dmas")
    assert "Feature Count: 3" in dmas and "Polygon" in dmas
    events = ogr_summary(out, "events")
    assert "Feature Count: 1" in events and re.search(r"^size_lps: Real", events, re.M)


def test_geojson_is_wgs84_with_a_layer_per_feature(tmp_path: Path) -> None:
    out = tmp_path / "net1.geojson"
    run = tirta(
        "network", "export", str(NET1), "--format", "geojson", "--out", str(out), "--crs", "EPSG:3857"
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    layers = pd.Series([f["properties"]["layer"] for f in doc["features"]]).value_counts().to_dict()
    assert layers == {"junctions": 9, "pipes": 12, "tanks": 1, "reservoirs": 1, "pumps": 1}
    lon, lat = next(f for f in doc["features"] if f["properties"]["name"] == "10")["geometry"][
        "coordinates"
    ]
    assert -180 <= lon <= 180 and -90 <= lat <= 90
    pipe = next(f for f in doc["features"] if f["properties"]["layer"] == "pipes")
    assert pipe["properties"]["length_m"] > 0 and pipe["properties"]["diameter_m"] > 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--format", "shp"), "format"),
        (("--format", "gpkg", "--crs", "EPSG:999999"), "crs"),
    ],
)
def test_bad_options_give_one_line(tmp_path: Path, args: tuple[str, ...], field: str) -> None:
    run = tirta("network", "export", str(NET1), "--out", str(tmp_path / "x"), *args)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and f"field '{field}'" in run.stderr, run.stderr
