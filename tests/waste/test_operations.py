"""Engine telemetry through the real DuckDB telemetry store (sensors registered, readings validated in
their metered units) against the LandGEM model: hand-computed hours, a gap, and the synthetic engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.telemetry.store import open_store
from tirta.waste import landfill_years, load_landfill
from tirta.waste.operations import engine_sensors, operations_by_year, synthetic_engine_readings

ONE_ENGINE = """open_year = 2000
close_year = 2020
waste_t_per_year = 100000
k = 0.05
L0_m3_per_t = 170
methane_pct = 50
collection_efficiency = 0.75
engine_efficiency = 0.38
availability = 0.9

[[engine]]
id = "e1"
gas_flow = "g1"
methane = "c1"
power = "p1"
"""


def _store(tmp_path: Path, lf) -> str:
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    with open_store(url) as st:
        st.add_sensors(engine_sensors(lf))
    return url


def test_hand_computed_hours_and_a_gap(tmp_path: Path):
    f = tmp_path / "lf.toml"
    f.write_text(ONE_ENGINE)
    lf = load_landfill(f)
    url = _store(tmp_path, lf)
    times = pd.date_range("2021-03-01", periods=10, freq="1h", tz="UTC")
    rows = []
    for i, t in enumerate(times):
        rows += [("g1", t, 1000.0, "m3/h"), ("c1", t, 50.0, "%"), ("p1", t, 1800.0, "kW")]
        if i == 4:  # the methane reading of hour 4 is missing: that hour is not covered
            rows.pop(-2)
    raw = pd.DataFrame(rows, columns=["sensor", "time", "value", "unit"])
    with open_store(url) as st:
        result = st.ingest(raw, source="test")
        assert result.accepted == len(rows) and result.quarantined == 0
        (year,) = operations_by_year(st, lf)
    model = landfill_years(lf).set_index("year").loc[2021]
    assert year["year"] == 2021 and year["hours"] == 9
    assert year["coverage"] == pytest.approx(9 / 8760)
    assert year["collected_methane_m3"] == pytest.approx(9 * 1000 * 0.5)
    assert year["modelled_methane_m3"] == pytest.approx(model["methane_m3"] * 9 / 8760)
    assert year["collection_efficiency"] == pytest.approx(4500 / (model["methane_m3"] * 9 / 8760))
    assert year["energy_mwh"] == pytest.approx(9 * 1.8)
    assert year["power_mw"] == pytest.approx(1.8)
    assert year["modelled_energy_mwh"] == pytest.approx(model["power_mw"] * 9 * 0.9)
    assert year["electric_efficiency"] == pytest.approx(16.2 * 3600 / (4500 * 35.8))


def test_synthetic_engines_round_trip(tmp_path: Path):
    """Engines that burn 70 % of the model's methane, with 5 % of days down: the store gives that back."""
    lf = load_landfill(Path(__file__).parents[2] / "src" / "tirta" / "data" / "waste" / "mamak.toml")
    url = _store(tmp_path, lf)
    raw = synthetic_engine_readings(
        lf, "2024-01-01", "2025-01-01", capture=0.7, outage_share=0.0, seed=1
    )
    with open_store(url) as st:
        assert st.ingest(raw, source="sim").quarantined == 0
        (year,) = operations_by_year(st, lf)
    assert year["year"] == 2024 and year["coverage"] == 1.0
    assert year["collection_efficiency"] == pytest.approx(0.7, rel=0.01)
    assert year["electric_efficiency"] == pytest.approx(0.40, rel=1e-6)
    assert year["energy_ratio"] == pytest.approx(0.7 / (0.75 * 0.92), rel=0.01)
    assert year["modelled_power_low_mw"] < year["modelled_power_mw"] < year["modelled_power_high_mw"]


def test_unregistered_engine_sensor_is_named(tmp_path: Path):
    f = tmp_path / "lf.toml"
    f.write_text(ONE_ENGINE)
    lf = load_landfill(f)
    with open_store(f"duckdb:///{tmp_path / 'empty.duckdb'}") as st, pytest.raises(InputError) as err:
        operations_by_year(st, lf)
    assert err.value.field == "engine" and "'g1'" in err.value.message


def test_out_of_range_methane_is_quarantined(tmp_path: Path):
    f = tmp_path / "lf.toml"
    f.write_text(ONE_ENGINE)
    lf = load_landfill(f)
    url = _store(tmp_path, lf)
    raw = pd.DataFrame(
        {
            "sensor": ["c1", "p1"],
            "time": ["2021-01-01T00:00Z"] * 2,
            "value": [140.0, np.nan],
            "unit": ["%", "kW"],
        }
    )
    with open_store(url) as st:
        result = st.ingest(raw, source="t")
    assert result.accepted == 0 and result.quarantined == 2
