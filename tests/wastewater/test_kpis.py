"""Plant KPIs on a month worked by hand: load against design, removal, kWh/m³, kWh/kg COD, sludge, biogas → CHP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.wastewater.kpis import monthly_kpis
from tirta.wastewater.lab import lab_frame
from tirta.wastewater.plants import load_plants

PLANTS = """
[[plant]]
id = "bojong"
name = "IPAL Bojongsoang"
design_flow_m3_d = 2000
design_bod_kg_d = 400
population_equivalent = 6000
process = "activated sludge"
standard = "id-p68-2016"
sensors = { influent_flow = "bj_q", power = "bj_kw", biogas = "bj_gas", sludge = "bj_was" }
"""


@pytest.fixture
def plant(tmp_path):
    path = tmp_path / "plants.toml"
    path.write_text(PLANTS, encoding="utf-8")
    return load_plants(path)["bojong"]


def april(plant_flow_m3_d: float = 1000.0) -> pd.DataFrame:
    index = pd.date_range("2026-04-01", periods=30 * 24, freq="1h", tz="UTC")
    return pd.DataFrame(
        {
            "influent_flow": plant_flow_m3_d / 86400.0,  # m³/s
            "power": 20_000.0,  # W → 480 kWh/d
            "biogas": 100.0 / 86400.0,  # m³/s → 100 m³/d
            "sludge": 10.0 / 86400.0,  # m³/s of waste sludge → 10 m³/d × 8 kg/m³
        },
        index=index,
    )


LAB = [
    ["sample", "time", "point", "parameter", "value", "unit"],
    ["a", "2026-04-10", "influent", "BOD5", "200", "mg/L"],
    ["a", "2026-04-10", "effluent", "BOD5", "20", "mg/L"],
    ["a", "2026-04-10", "influent", "COD", "500", "mg/L"],
    ["a", "2026-04-10", "effluent", "COD", "50", "mg/L"],
    ["a", "2026-04-10", "influent", "TSS", "250", "mg/L"],
    ["a", "2026-04-10", "effluent", "TSS", "25", "mg/L"],
]


def test_month_by_hand(plant):
    k = monthly_kpis(april(), lab_frame(LAB), plant).loc["2026-04"]
    assert k["days"] == pytest.approx(30.0)
    assert k["treated_m3"] == pytest.approx(30_000.0)
    assert k["hydraulic_load_ratio"] == pytest.approx(0.5)  # 1,000 of 2,000 m³/d
    assert k["bod_load_kg_d"] == pytest.approx(200.0)  # 1,000 m³/d × 0.2 kg/m³
    assert k["organic_load_ratio"] == pytest.approx(0.5)
    assert k["pe_served"] == pytest.approx(200.0 / 0.060)
    assert k["removal_bod5_pct"] == pytest.approx(90.0)
    assert k["removal_cod_pct"] == pytest.approx(90.0)
    assert k["removal_tss_pct"] == pytest.approx(90.0)
    assert np.isnan(k["removal_nh3_n_pct"])  # no NH3-N samples: no number, not zero
    assert k["energy_kwh"] == pytest.approx(14_400.0)
    assert k["energy_kwh_m3"] == pytest.approx(0.48)
    assert k["cod_removed_kg"] == pytest.approx(13_500.0)  # 30,000 m³ × 0.45 kg/m³
    assert k["energy_kwh_kg_cod_removed"] == pytest.approx(14_400.0 / 13_500.0)
    assert k["sludge_kg_tss"] == pytest.approx(2_400.0)  # 300 m³ × 8 kg/m³
    assert k["sludge_kg_tss_kg_bod_removed"] == pytest.approx(2_400.0 / 5_400.0)
    assert k["biogas_m3"] == pytest.approx(3_000.0)
    assert k["methane_m3"] == pytest.approx(1_860.0)  # 62 % CH4
    assert k["methane_energy_kwh"] == pytest.approx(1_860.0 * 9.97)
    assert k["chp_electricity_kwh"] == pytest.approx(1_860.0 * 9.97 * 0.38)
    assert k["chp_heat_kwh"] == pytest.approx(1_860.0 * 9.97 * 0.45)
    assert k["chp_share_of_demand_pct"] == pytest.approx(100.0 * 1_860.0 * 9.97 * 0.38 / 14_400.0)


def test_months_split_and_total(plant):
    tele = pd.concat([april(), april(1500.0).set_axis(april().index + pd.Timedelta(days=30))])
    table = monthly_kpis(tele, lab_frame(LAB), plant)
    assert list(table.index) == ["2026-04", "2026-05", "total"]
    assert table.loc["2026-05", "hydraulic_load_ratio"] == pytest.approx(0.75)
    assert table.loc["total", "treated_m3"] == pytest.approx(75_000.0)
    assert np.isnan(table.loc["2026-05", "removal_bod5_pct"])  # no lab sample in May


def test_gap_in_telemetry_is_not_volume(plant):
    tele = april().drop(april().index[24:48])  # one day missing: the reading before it stands for 25 h
    k = monthly_kpis(tele, lab_frame(LAB), plant).loc["2026-04"]
    assert k["treated_m3"] == pytest.approx(30_000.0)


def test_bad_registry_names_field(tmp_path):
    path = tmp_path / "plants.toml"
    path.write_text(PLANTS.replace("design_flow_m3_d = 2000", "design_flow_m3_d = -5"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_plants(path)
    assert err.value.field == "design_flow_m3_d" and err.value.file == str(path)
    path.write_text(PLANTS.replace("biogas =", "methane ="), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_plants(path)
    assert err.value.field == "sensors.methane"
