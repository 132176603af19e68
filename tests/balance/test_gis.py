"""Per-DMA KPIs as a GIS layer: `tirta network export --from/--to` writes a 'dma_kpis' layer of DMA
polygons whose values are those `tirta balance dmas` reports, read back with GDAL's ogrinfo."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tirta.balance.gis import KPI_FIELDS, dma_kpi_table
from tirta.cli import main
from tirta.network.model import builtin_network_path

LTOWN = builtin_network_path("l-town")
DMAS = LTOWN.with_name("L-TOWN.dmas.toml")
OGRINFO = shutil.which("ogrinfo")


def tirta(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *args], capture_output=True, text=True, env=env
    )


def ogr_features(path: Path, layer: str) -> tuple[str, list[dict[str, str]]]:
    """ogrinfo's summary of a layer and its features' fields as text (name → value)."""
    assert OGRINFO is not None, "ogrinfo missing: apt-get install gdal-bin"
    summary = subprocess.run(
        [OGRINFO, "-so", str(path), layer], capture_output=True, text=True, check=True
    ).stdout
    full = subprocess.run(
        [OGRINFO, "-q", "-geom=NO", str(path), layer], capture_output=True, text=True, check=True
    ).stdout
    features: list[dict[str, str]] = []
    for line in full.splitlines():
        if line.startswith("OGRFeature("):
            features.append({})
        elif " = " in line and features:
            head, _, value = line.strip().partition(" = ")
            features[-1][head.split(" ")[0]] = value
    return summary, features


@pytest.mark.slow
def test_gpkg_dma_kpis_equal_balance_dmas(ltown_stores: dict[str, Any], tmp_path: Path) -> None:
    url = ltown_stores["leak"]
    run = tirta("balance", "dmas", "--from", "2021-01", "--to", "2021-01", "--dmas", str(DMAS),
                "--network", str(LTOWN), "--store", url, "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    reports = json.loads(run.stdout)
    out = tmp_path / "ltown.gpkg"
    run = tirta("network", "export", "l-town", "--format", "gpkg", "--out", str(out),
                "--crs", "EPSG:32748", "--store", url, "--from", "2021-01", "--to", "2021-01")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "dma_kpis 3" in run.stderr
    summary, features = ogr_features(out, "dma_kpis")
    assert "Geometry: Polygon" in summary, summary
    assert 'ID["EPSG",32748]' in summary, summary
    assert "Feature Count: 3" in summary, summary  # every DMA of the file, B with its error
    for field in ("system_input_m3: Real", "nrw_pct: Real", "ili: Real", "mnf_m3s: Real"):
        assert field in summary, summary
    by_name = {f["name"]: f for f in features}
    assert sorted(by_name) == ["A", "B", "C"]
    for name, feature in by_name.items():
        assert feature["period_from"] == "2021-01-01T00:00:00+00:00"
        assert feature["period_to"] == "2021-02-01T00:00:00+00:00"
        rep = reports[name]
        if "error" in rep:
            assert feature["error"] == rep["error"]
            assert feature["system_input_m3"] == "(null)"
            continue
        checked = 0
        for field, (part, key, factor) in KPI_FIELDS.items():  # every field, null where the report's is
            expected = (rep[part] or {}).get(key)
            if expected is None:
                assert feature[field] == "(null)", (name, field)
                continue
            assert float(feature[field]) == pytest.approx(expected * factor, rel=1e-12), (name, field)
            checked += 1
        assert checked >= 8, (name, checked)
    assert float(by_name["A"]["system_input_m3"]) > 0
    assert float(by_name["C"]["nrw_pct"]) == pytest.approx(reports["C"]["total"]["nrw_pct"], rel=1e-12)
    assert float(by_name["A"]["night_ili"]) == pytest.approx(reports["A"]["nightflow"]["ili"], rel=1e-12)


def test_kpi_table_names_si_fields_and_keeps_errors() -> None:
    reports = {
        "A": {
            "total": {"inflow_m3": 100.0, "nrw_pct": 20.0, "ili": None},
            "nightflow": {"mnf_m3h": 36.0},
        },
        "B": {"dma": "B", "error": "PRV-3 has no flow meter"},
    }
    table = dma_kpi_table(reports, "2021-01-01", "2021-02-01")
    assert list(table["name"]) == ["A", "B"]
    assert set(KPI_FIELDS) <= set(table.columns)
    a, b = table.iloc[0], table.iloc[1]
    assert a["system_input_m3"] == 100.0 and a["mnf_m3s"] == pytest.approx(0.01)
    assert a["ili"] is None or math.isnan(a["ili"])
    assert b["error"] == "PRV-3 has no flow meter" and math.isnan(b["nrw_pct"])


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--from", "2021-01"], "--to"),
        (["--from", "2021-01", "--to", "2021-01"], "--store"),
    ],
)
def test_missing_kpi_inputs_are_input_errors(
    args: list[str], field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("TIRTA_STORE_URL", raising=False)
    with pytest.raises(SystemExit) as done:
        main(
            ["network", "export", "l-town", "--format", "gpkg", "--out", str(tmp_path / "x.gpkg"), *args]
        )
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert f"field '{field}'" in err, err


def test_missing_dma_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inp = tmp_path / "net.inp"
    inp.write_bytes(LTOWN.read_bytes())  # no DMA file beside this copy
    with pytest.raises(SystemExit) as done:
        main(["network", "export", str(inp), "--format", "gpkg", "--out", str(tmp_path / "x.gpkg"),
              "--from", "2021-01", "--to", "2021-01", "--store", "duckdb:///nowhere.duckdb"])  # fmt: skip
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "field '--dmas'" in err and "DMA file" in err, err


@pytest.mark.slow
def test_geojson_dma_kpis_are_numbers(ltown_stores: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "ltown.geojson"
    run = tirta("network", "export", "l-town", "--format", "geojson", "--out", str(out),
                "--crs", "EPSG:32748", "--store", ltown_stores["leak"], "--from", "2021-01", "--to", "2021-01")  # fmt: skip
    assert run.returncode == 0, run.stderr
    features = json.loads(out.read_text())["features"]
    kpis = {f["properties"]["name"]: f for f in features if f["properties"]["layer"] == "dma_kpis"}
    assert sorted(kpis) == ["A", "B", "C"]
    a = kpis["A"]
    assert a["geometry"]["type"] == "Polygon"
    lon, lat = a["geometry"]["coordinates"][0][0]
    assert -180 <= lon <= 180 and -90 <= lat <= 90  # RFC 7946 longitude/latitude
    for field in ("system_input_m3", "average_pressure_m", "mnf_m3s"):
        assert isinstance(a["properties"][field], float), field
