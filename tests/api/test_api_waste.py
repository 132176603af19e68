"""``/api/v1/waste``: LandGEM of a posted file (the reference example), the city report with engine
actuals from the store, the public figures without a key, and the one error shape for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tirta.telemetry.store import open_store
from tirta.waste import load_landfill
from tirta.waste.operations import engine_sensors, synthetic_engine_readings

from .conftest import make_settings, start

SAMPLE = Path(__file__).parents[2] / "src" / "tirta" / "data" / "waste"
BODY = """open_year = 2021
close_year = 2030
waste_t_per_year = 100000
k = 0.05
L0_m3_per_t = 170
methane_pct = 50
collection_efficiency = 0.75
engine_efficiency = 0.38
"""


def test_landgem_post(api):
    r = api.client.post(
        "/api/v1/waste/landgem",
        content=BODY,
        headers={**api.headers("viewer"), "Content-Type": "application/toml"},
    )
    assert r.status_code == 200, r.text
    years = {y["year"]: y for y in r.json()["years"]}
    assert years[2031]["methane_m3"] == pytest.approx(6_672_270, abs=1)  # landfill-gas.md §1.4
    assert years[2031]["power_mw"] == pytest.approx(2.16, rel=0.01)


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [("k = 0.05", "k = -1", "k", 4), ("methane_pct = 50", "methane_pct = 150", "methane_pct", 6)],
)
def test_landgem_bad_body_is_422_naming_the_field(api, old, new, field, line):
    """A well-formed body describing no valid landfill: 422 (the contract's "schema-valid, refused")."""
    r = api.client.post(
        "/api/v1/waste/landgem", content=BODY.replace(old, new), headers=api.headers("viewer")
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["type"] == "invalid_landfill" and err["field"] == field and err["line"] == line


def test_report_and_public_with_a_waste_file(tmp_path: Path):
    cfg = make_settings(f"duckdb:///{tmp_path / 's.duckdb'}", tmp_path, waste_file=SAMPLE / "city.toml")
    lf = load_landfill(SAMPLE / "mamak.toml")
    with open_store(cfg.store_url) as st:
        st.add_sensors(engine_sensors(lf))
        st.ingest(synthetic_engine_readings(lf, "2025-06-01", "2025-06-08", seed=5), source="sim")
    for api in start(cfg):
        report = api.client.get("/api/v1/waste/report", headers=api.headers("viewer")).json()
        assert report["kpis"]["period"]["days"] == 731
        (ops,) = report["landfills"][0]["operations"]
        assert ops["year"] == 2025 and ops["hours"] == 7 * 24
        public = api.client.get("/api/v1/waste/public").json()  # no key
        assert public["year"] == "2025" and public["energy_mwh"] == pytest.approx(ops["energy_mwh"])


def test_landgem_post_json(api):
    doc = {"open_year": 2021, "close_year": 2030, "waste_t_per_year": 1e5, "defaults": "inventory"}
    doc |= {"collection_efficiency": 0.75, "engine_efficiency": 0.38}
    r = api.client.post("/api/v1/waste/landgem", json=doc, headers=api.headers("viewer"))
    years = {y["year"]: y for y in r.json()["years"]}
    assert years[2031]["methane_m3"] == pytest.approx(3_290_210, abs=1)  # landfill-gas.md §1.4
    bad = api.client.post("/api/v1/waste/landgem", json=[1], headers=api.headers("viewer"))
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "body"


def test_not_configured(api):
    assert api.client.get("/api/v1/waste/report", headers=api.headers("viewer")).status_code == 404
    assert api.client.get("/api/v1/waste/public").json()["diversion_pct"] is None
