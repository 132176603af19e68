"""The city's waste file (population, sites, tonnage, landfills) and the public figures made from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tirta.errors import InputError
from tirta.telemetry.store import open_store
from tirta.waste import city_report, load_city, load_landfill, public_waste
from tirta.waste.operations import engine_sensors, synthetic_engine_readings

SAMPLE = Path(__file__).parents[2] / "src" / "tirta" / "data" / "waste"


def test_sample_city_report_and_public_block(tmp_path: Path):
    city = load_city(SAMPLE / "city.toml")
    assert city.population == 5_800_000 and set(city.sites) == {"mamak", "cankaya-mrf", "sincan-compost"}
    lf = load_landfill(SAMPLE / "mamak.toml")
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as st:
        st.add_sensors(engine_sensors(lf))
        st.ingest(synthetic_engine_readings(lf, "2025-01-01", "2025-02-01", seed=2), source="sim")
        report = city_report(city, st)
    (landfill,) = report["landfills"]
    assert landfill["recorded_years"] == [2024, 2025] and len(landfill["operations"]) == 1
    public = public_waste(report)
    year_2025 = report["kpis"]["years"][1]
    assert public["year"] == "2025" and public["diversion_pct"] == year_2025["diversion_pct"]
    assert public["energy_year"] == 2025
    assert public["energy_mwh"] == pytest.approx(landfill["operations"][0]["energy_mwh"])
    assert "sites" not in public  # no site-level figures on the public page


def test_city_errors_name_the_file(tmp_path: Path):
    for name in ("tonnage-illustrative.csv", "mamak.toml"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    text = (SAMPLE / "city.toml").read_text()
    bad = tmp_path / "city.toml"
    bad.write_text(text.replace("population = 5_800_000", 'population = "many"'))
    with pytest.raises(InputError) as err:
        load_city(bad)
    assert err.value.field == "population" and err.value.file == str(bad)
    # a site missing from the registry makes the tonnage file fail with its line
    bad.write_text(text.replace('id = "sincan-compost"', 'id = "sincan"'))
    with pytest.raises(InputError) as err:
        load_city(bad)
    assert err.value.file == str(tmp_path / "tonnage-illustrative.csv") and err.value.field == "site"
    assert err.value.line == 13  # the first sincan-compost row (after 5 comment lines and the header)
