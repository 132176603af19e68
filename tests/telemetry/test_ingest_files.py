"""File ingestion on both stores: BattLeDIM folders and workbooks, long CSV, Parquet, broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.telemetry.battledim import ScadaData, read_battledim, write_battledim
from tirta.telemetry.ingest import ingest_file, read_file
from tirta.telemetry.store import Store

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry" / "l-town-slice"
NOW = pd.Timestamp("2021-01-01", tz="UTC")


def small_scada() -> ScadaData:
    times = pd.date_range("2020-12-18", periods=6, freq="5min", tz="UTC", name="time")
    pressure = pd.DataFrame({"n1": np.linspace(30, 31, 6), "n4": np.linspace(40, 41, 6)}, times)
    pressure.iloc[2, 1] = np.nan  # an empty cell is no reading
    flow = pd.DataFrame({"p227": np.full(6, 0.02)}, times)
    demand = pd.DataFrame({"n1": np.full(6, 1e-4)}, times)
    return ScadaData(pressure=pressure, flow=flow, demand=demand)


def test_battledim_folder_registers_its_sensors_and_reruns_add_nothing(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "scada"
    write_battledim(folder, small_scada(), decimals=4)
    first = ingest_file(store, folder, now=NOW)
    assert first.to_dict() == {"accepted": 23, "duplicate": 0, "quarantined": 0, "reasons": {}}
    reg = store.sensors()
    assert sorted(s.id for s in reg) == ["amr_n1", "n1", "n4", "p227"]
    assert reg["amr_n1"].kind == "demand" and reg["amr_n1"].node == "n1" and reg["amr_n1"].unit == "L/h"
    assert reg["p227"].link == "p227" and reg["p227"].unit == "m3/h"
    again = ingest_file(store, folder, now=NOW)
    assert again.to_dict() == {"accepted": 0, "duplicate": 23, "quarantined": 0, "reasons": {}}
    assert store.counts()["readings"] == 23
    wide = store.read(["n1", "p227", "amr_n1"], "2020-12-18", "2020-12-19")
    assert wide["p227"].iloc[0] == pytest.approx(0.02) and wide["amr_n1"].iloc[0] == pytest.approx(1e-4)


def test_the_l_town_slice_loads_whole_and_reads_back_in_si(store: Store) -> None:
    result = ingest_file(store, SLICE, now=NOW)
    expected = read_battledim(SLICE)
    assert result.accepted == expected.n_readings() == 144 * (33 + 3 + 1 + 82)
    wide = store.read(["n1", "p227", "T1", "amr_n1"], "2020-12-18", "2020-12-19")
    np.testing.assert_allclose(wide["n1"], expected.pressure["n1"])
    np.testing.assert_allclose(wide["p227"], expected.flow["p227"])
    np.testing.assert_allclose(wide["amr_n1"], expected.demand["n1"])
    hourly = store.read(["n1"], "2020-12-18", "2020-12-19", every="1h", agg="max")
    np.testing.assert_allclose(hourly["n1"], expected.pressure["n1"].resample("1h").max())


def test_xlsx_workbook(store: Store, tmp_path: Path) -> None:
    scada = small_scada()
    book = tmp_path / "scada.xlsx"
    with pd.ExcelWriter(book) as xl:
        for sheet, frame in (("Pressures (m)", scada.pressure), ("Flows (m3_h)", scada.flow * 3600)):
            table = frame.copy()
            table.index = table.index.tz_localize(None).strftime("%Y-%m-%d %H:%M")
            table.rename_axis("Timestamp").to_excel(xl, sheet_name=sheet)
    result = ingest_file(store, book, now=NOW)
    assert (result.accepted, result.quarantined) == (17, 0)
    assert store.read(["p227"], "2020-12-18", "2020-12-19")["p227"].iloc[0] == pytest.approx(0.02)


LONG = """sensor,time,value,unit
n1,2020-12-18 00:00,30.5,m
n1,2020-12-18T00:05:00Z,3,bar
p227,2020-12-18 00:00,72,m3/h
p227,2020-12-18 00:05,20,L/s

n1,2099-01-01 00:00,30,m
p227,2020-12-18 00:10,3,kPa
"n1'); DROP TABLE readings; --",2020-12-18 00:00,1,m
n1,2020-12-18 00:10,abc,m
"""


def test_long_csv_with_bad_readings(registered: Store, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(LONG)
    result = ingest_file(registered, path, now=NOW)
    assert result.to_dict() == {
        "accepted": 4,
        "duplicate": 0,
        "quarantined": 4,
        "reasons": {"future": 1, "not a number": 1, "unit not convertible": 1, "unknown sensor": 1},
    }
    q = registered.quarantined().set_index("reason")
    assert '"line":"7"' in q.loc["future", "payload"]  # the blank line 6 is counted
    assert '"line":"10"' in q.loc["not a number", "payload"]
    wide = registered.read(["n1", "p227"], "2020-12-18", "2020-12-19")
    assert wide["n1"].tolist() == pytest.approx([30.5, 300 / 9.80665])
    assert wide["p227"].tolist() == pytest.approx([0.02, 0.02])
    again = ingest_file(registered, path, now=NOW)
    assert (again.accepted, again.duplicate, again.quarantined) == (0, 4, 4)
    assert registered.counts()["quarantine"] == 4


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("sensor,time,value,unit\nn1,2020-12-18 00:00,1,m\nn1,2020-12-18 00:05,1\n", 3, "unit"),
        ("sensor,time,value,unit\nn1,2020-12-18 00:00\n", 2, "value"),
        ("sensor,time,value,unit\nn1,2020-12-18 00:00,1,m\nn1,2020-12-18 00:05,1,m,extra\n", 3, "unit"),
        ("sensor,time,unit\nn1,2020-12-18 00:00,m\n", 1, "value"),
    ],
)
def test_malformed_csv_line_names_file_line_and_field(
    registered: Store, tmp_path: Path, text: str, line: int, field: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        ingest_file(registered, path, now=NOW)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), line, field)
    assert str(path) in str(err.value)
    assert registered.counts()["readings"] == 0 and registered.counts()["quarantine"] == 0


def test_malformed_battledim_cell_names_file_line_and_field(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "scada"
    write_battledim(folder, small_scada())
    pressures = folder / "Pressures.csv"
    lines = pressures.read_text().splitlines()
    cells = lines[3].split(";")
    cells[1] = "4x.1"  # the n1 column
    lines[3] = ";".join(cells)
    pressures.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        ingest_file(store, folder, now=NOW)
    assert err.value.file == str(pressures) and err.value.line == 4 and err.value.field == "n1"
    assert store.counts()["readings"] == 0


def test_parquet(registered: Store, tmp_path: Path) -> None:
    path = tmp_path / "readings.parquet"
    frame = pd.DataFrame(
        {
            "sensor": ["n1", "n1", "p227", "ghost"],
            "time": pd.to_datetime(
                ["2020-12-18 00:00", "2020-12-18 00:05", "2020-12-18 00:00", "2020-12-18 00:00"]
            ),
            "value": [30.0, np.nan, 36.0, 1.0],
            "unit": ["m", "m", "m3/h", "m"],
        }
    )
    frame.to_parquet(path)
    result = ingest_file(registered, path, now=NOW)
    assert result.to_dict()["reasons"] == {"not a number": 1, "unknown sensor": 1}
    assert result.accepted == 2
    assert registered.read(["p227"], "2020-12-18", "2020-12-19")["p227"].iloc[0] == pytest.approx(0.01)


def test_a_battledim_table_given_alone_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "Pressures.csv"
    path.write_text("Timestamp;n1\n2020-12-18 00:00;30\n")
    with pytest.raises(InputError, match="BattLeDIM"):
        read_file(path)
    with pytest.raises(InputError, match="no such file"):
        read_file(tmp_path / "missing.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputError, match="unknown file type"):
        read_file(tmp_path / "x.json")
