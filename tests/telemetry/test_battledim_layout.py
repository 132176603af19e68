from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from helpers import BAD
from tirta.errors import InputError
from tirta.telemetry import ScadaData, read_battledim, write_battledim


def _sample() -> ScadaData:
    idx = pd.date_range("2021-01-01", periods=4, freq="5min", tz="UTC", name="time")
    return ScadaData(
        pressure=pd.DataFrame(
            {"n1": [28.91, 28.9, 28.85, 28.8], "n4": [33.1, 33.2, np.nan, 33.0]}, index=idx
        ),
        flow=pd.DataFrame({"p227": np.array([84.63, 82.2, 80.0, 81.0]) / 3600}, index=idx),
        level=pd.DataFrame({"T1": [3.5, 3.51, 3.52, 3.53]}, index=idx),
        demand=pd.DataFrame({"n1": np.array([663.74, 691.91, 650.0, 600.0]) / 3.6e6}, index=idx),
    )


def test_round_trip_in_layout_units(tmp_path):
    data = _sample()
    write_battledim(tmp_path, data)
    text = (tmp_path / "Flows.csv").read_text().splitlines()
    assert text[0] == "Timestamp;p227" and text[1] == "2021-01-01 00:00;84.63"
    assert (tmp_path / "Pressures.csv").read_text().splitlines()[3] == "2021-01-01 00:10;28.85;"
    back = read_battledim(tmp_path)
    for (kind, a), (_, b) in zip(data.items(), back.items(), strict=True):
        pd.testing.assert_frame_equal(a, b, check_freq=False, atol=1e-9, check_names=False, obj=kind)


def test_decimal_comma_and_gzip(tmp_path):
    text = "Timestamp;n1;n4\n2019-01-01 00:00;28,91;33,5\n2019-01-01 00:05;28,90;33,4\n"
    (tmp_path / "Pressures.csv.gz").write_bytes(gzip.compress(text.encode()))
    data = read_battledim(tmp_path)
    assert data.pressure.loc["2019-01-01 00:05", "n4"].item() == pytest.approx(33.4)
    assert data.flow.empty


def test_xlsx_workbook(tmp_path):
    data = _sample()
    path = tmp_path / "SCADA.xlsx"
    with pd.ExcelWriter(path) as xl:
        for kind, sheet, factor in (("pressure", "Pressures (m)", 1), ("flow", "Flows (m3_h)", 3600)):
            table = getattr(data, kind) * factor
            table.index = table.index.tz_localize(None).strftime("%Y-%m-%d %H:%M")
            table.index.name = "Timestamp"
            table.to_excel(xl, sheet_name=sheet)
    back = read_battledim(path)
    assert back.flow["p227"].iloc[0] == pytest.approx(84.63 / 3600)
    assert back.pressure.shape == (4, 2) and back.level.empty


def test_bad_value_names_file_line_column():
    with pytest.raises(InputError) as info:
        read_battledim(BAD / "scada_bad_value")
    err = info.value
    assert err.line == 3 and err.field == "n4" and "oops" in str(err)
    assert err.file.endswith("Pressures.csv")


def test_bad_timestamp_and_empty_folder(tmp_path):
    (tmp_path / "Levels.csv").write_text("Timestamp;T1\n2021-01-01 00:00;3.5\nyesterday;3.6\n")
    with pytest.raises(InputError, match="expected a timestamp") as info:
        read_battledim(tmp_path)
    assert info.value.line == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no BattLeDIM files"):
        read_battledim(empty)
