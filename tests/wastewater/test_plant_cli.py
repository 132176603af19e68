"""A plant end to end: sensors registered and telemetry ingested through the store's own CLI, then
``tirta plant kpis`` and the monthly ``tirta plant report`` (HTML and PDF) over it."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tirta.cli import main

PLANTS = """
[[plant]]
id = "bojong"
name = "IPAL Bojongsoang"
design_flow_m3_d = 2000
design_bod_kg_d = 400
process = "activated sludge"
sensors = { influent_flow = "bj_q", power = "bj_kw", biogas = "bj_gas", dissolved_oxygen = "bj_do" }
"""
SENSORS = (
    "id,kind,unit\nbj_q,flow,m3/h\nbj_kw,power,kW\nbj_gas,gas_flow,m3/h\nbj_do,dissolved_oxygen,mg/L\n"
)


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.service)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, Path]:
    """:func:`make_plant_store` on each backend."""
    if request.param == "postgres":
        return make_plant_store(tmp_path, str(request.getfixturevalue("postgres_db")))
    return make_plant_store(tmp_path, f"duckdb:///{tmp_path / 'store.duckdb'}")


@pytest.fixture
def plant_store(tmp_path: Path) -> tuple[Path, str, Path]:
    """:func:`make_plant_store` on DuckDB."""
    return make_plant_store(tmp_path, f"duckdb:///{tmp_path / 'store.duckdb'}")


def make_plant_store(tmp_path: Path, url: str) -> tuple[Path, str, Path]:
    """A store with two months of hourly plant telemetry, the registry and a lab file."""
    (tmp_path / "sensors.csv").write_text(SENSORS, encoding="utf-8")
    assert run("sensors", "add", str(tmp_path / "sensors.csv"), "--store", url)[0] == 0
    times = pd.date_range("2026-04-01", "2026-06-01", freq="1h", tz="UTC", inclusive="left")
    april = times < pd.Timestamp("2026-05-01", tz="UTC")
    flow_m3h = np.where(april, 1000.0, 1500.0) / 24.0  # 1,000 then 1,500 m³/d
    rows = []
    for sid, values, unit in (
        ("bj_q", flow_m3h, "m3/h"),
        ("bj_kw", np.full(len(times), 20.0), "kW"),
        ("bj_gas", np.full(len(times), 100.0 / 24.0), "m3/h"),
        ("bj_do", np.full(len(times), 2.0), "mg/L"),
    ):
        rows.append(
            pd.DataFrame(
                {
                    "sensor": sid,
                    "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "value": values,
                    "unit": unit,
                }
            )
        )
    pd.concat(rows).to_csv(tmp_path / "tele.csv", index=False)
    assert run("ingest", "file", str(tmp_path / "tele.csv"), "--store", url)[0] == 0
    (tmp_path / "plants.toml").write_text(PLANTS, encoding="utf-8")
    (tmp_path / "lab.csv").write_text(
        "sample,time,point,parameter,value,unit\n"
        "a,2026-04-10T09:00,influent,COD,500,mg/L\na,2026-04-10T09:00,effluent,COD,50,mg/L\n"
        "a,2026-04-10T09:00,influent,BOD5,200,mg/L\na,2026-04-10T09:00,effluent,BOD5,20,mg/L\n"
        "b,2026-05-12T09:00,influent,COD,480,mg/L\nb,2026-05-12T09:00,effluent,COD,120,mg/L\n",
        encoding="utf-8",
    )
    return tmp_path / "plants.toml", url, tmp_path / "lab.csv"


def test_kpis_from_the_store(any_store):
    plants, url, lab = any_store
    code, out = run(
        "plant",
        "kpis",
        str(plants),
        "bojong",
        "--from",
        "2026-04-01",
        "--to",
        "2026-06-01",
        "--lab",
        str(lab),
        "--store",
        url,
        "--json",
    )
    assert code == 0
    s = json.loads(out)
    april, may = s["months"]
    assert (april["month"], may["month"]) == ("2026-04", "2026-05")
    assert april["treated_m3"] == pytest.approx(30_000.0) and may["treated_m3"] == pytest.approx(
        46_500.0
    )
    assert april["hydraulic_load_ratio"] == pytest.approx(0.5) and may[
        "hydraulic_load_ratio"
    ] == pytest.approx(0.75)
    assert april["energy_kwh_m3"] == pytest.approx(0.48)
    assert april["organic_load_ratio"] == pytest.approx(0.5)
    assert april["chp_share_of_demand_pct"] == pytest.approx(100 * 1860 * 9.97 * 0.38 / 14_400, rel=1e-4)
    assert may["removal_cod_pct"] == pytest.approx(75.0)
    assert april["do_avg_mg_l"] == pytest.approx(2.0)
    assert s["compliance"]["samples"] == 2 and s["compliance"]["compliant_samples"] == 1  # COD 120 > 100
    assert s["rolling_compliance_pct"] == {"2026-04": 100.0, "2026-05": 50.0}


def test_monthly_report_html_and_pdf(plant_store, tmp_path):
    plants, url, lab = plant_store
    out, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    args = [
        "plant",
        "report",
        str(plants),
        "bojong",
        "--month",
        "2026-05",
        "--lab",
        str(lab),
        "--store",
        url,
        "--out",
        str(out),
    ]
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        args += ["--pdf", str(pdf)]
    assert run(*args)[0] == 0
    html = out.read_text(encoding="utf-8")
    assert "IPAL Bojongsoang" in html and 'data-kpi="hydraulic_load_ratio"' in html
    assert "0.75" in html and "COD" in html and "120" in html  # May's load and its exceedance
    if pdf.exists():
        assert pdf.read_bytes().startswith(b"%PDF")


def test_unknown_plant_is_one_line_error(plant_store, capsys):
    plants, url, _ = plant_store
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "plant",
                "kpis",
                str(plants),
                "nowhere",
                "--from",
                "2026-04-01",
                "--to",
                "2026-05-01",
                "--store",
                url,
            ]
        )
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {plants}: unknown plant 'nowhere'")


def test_api_plants(plant_store, tmp_path):
    from fastapi.testclient import TestClient

    from tirta.api import UserStore, api_settings, create_app

    plants, url, _ = plant_store
    text = plants.read_text(encoding="utf-8").replace(
        'process = "activated sludge"', 'process = "activated sludge"\nlab = "lab.csv"'
    )
    plants.write_text(text, encoding="utf-8")
    cfg = api_settings(store_url=url, users_db=tmp_path / "users.sqlite", plants_file=plants, env={})
    auth = {"Authorization": f"Bearer {UserStore(cfg.users_db).add_user('v', 'viewer')}"}
    with TestClient(create_app(cfg)) as client:
        listed = client.get("/api/v1/plants", headers=auth)
        assert listed.status_code == 200 and listed.json()[0]["id"] == "bojong"
        one = client.get("/api/v1/plants/bojong?from=2026-04&to=2026-05", headers=auth).json()
        assert [m["month"] for m in one["months"]] == ["2026-04", "2026-05"]
        assert one["months"][1]["hydraulic_load_ratio"] == pytest.approx(0.75)
        assert one["compliance"]["compliant_samples"] == 1
        missing = client.get("/api/v1/plants/nowhere", headers=auth)
        assert missing.status_code == 404 and "no plant 'nowhere'" in missing.json()["error"]["message"]
        assert client.get("/api/v1/plants").status_code == 401
