"""File ingestion on both stores: BattLeDIM folders and workbooks, long CSV, Parquet, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.network import load_network
from tirta.network.model import Network, builtin_network_path
from tirta.telemetry.battledim import ScadaData, read_battledim, write_battledim
from tirta.telemetry.ingest import ingest_file, read_file
from tirta.telemetry.store import Store

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry" / "l-town-slice"
NOW = pd.Timestamp("2021-01-01", tz="UTC")


@pytest.fixture(scope="module")
def ltown() -> Network:
    """L-Town, the network whose nodes and links the BattLeDIM columns of these tests name."""
    return load_network(builtin_network_path("l-town"))


def small_scada() -> ScadaData:
    times = pd.date_range("2020-12-18", periods=6, freq="5min", tz="UTC", name="time")
    pressure = pd.DataFrame({"n1": np.linspace(30, 31, 6), "n4": np.linspace(40, 41, 6)}, times)
    pressure.iloc[2, 1] = np.nan  # an empty cell is no reading
    flow = pd.DataFrame({"p227": np.full(6, 0.02)}, times)
    demand = pd.DataFrame({"n1": np.full(6, 1e-4)}, times)
    return ScadaData(pressure=pressure, flow=flow, demand=demand)


def test_battledim_folder_registers_its_sensors_and_reruns_add_nothing(
    store: Store, tmp_path: Path, ltown: Network
) -> None:
    folder = tmp_path / "scada"
    write_battledim(folder, small_scada(), decimals=4)
    first = ingest_file(store, folder, network=ltown, now=NOW)
    assert first.to_dict() == {"accepted": 23, "duplicate": 0, "quarantined": 0, "reasons": {}}
    reg = store.sensors()
    assert sorted(s.id for s in reg) == ["amr_n1", "n1", "n4", "p227"]
    assert reg["amr_n1"].kind == "demand" and reg["amr_n1"].node == "n1" and reg["amr_n1"].unit == "L/h"
    assert reg["p227"].link == "p227" and reg["p227"].unit == "m3/h"
    again = ingest_file(store, folder, network=ltown, now=NOW)
    assert again.to_dict() == {"accepted": 0, "duplicate": 23, "quarantined": 0, "reasons": {}}
    assert store.counts()["readings"] == 23
    wide = store.read(["n1", "p227", "amr_n1"], "2020-12-18", "2020-12-19")
    assert wide["p227"].iloc[0] == pytest.approx(0.02) and wide["amr_n1"].iloc[0] == pytest.approx(1e-4)


def test_the_l_town_slice_loads_whole_and_reads_back_in_si(store: Store, ltown: Network) -> None:
    result = ingest_file(store, SLICE, network=ltown, now=NOW)
    expected = read_battledim(SLICE)
    assert result.accepted == expected.n_readings() == 144 * (33 + 3 + 1 + 82)
    wide = store.read(["n1", "p227", "T1", "amr_n1"], "2020-12-18", "2020-12-19")
    np.testing.assert_allclose(wide["n1"], expected.pressure["n1"])
    np.testing.assert_allclose(wide["p227"], expected.flow["p227"])
    np.testing.assert_allclose(wide["amr_n1"], expected.demand["n1"])
    hourly = store.read(["n1"], "2020-12-18", "2020-12-19", every="1h", agg="max")
    np.testing.assert_allclose(hourly["n1"], expected.pressure["n1"].resample("1h").max())


def test_xlsx_workbook(store: Store, tmp_path: Path, ltown: Network) -> None:
    scada = small_scada()
    book = tmp_path / "scada.xlsx"
    with pd.ExcelWriter(book) as xl:
        for sheet, frame in (("Pressures (m)", scada.pressure), ("Flows (m3_h)", scada.flow * 3600)):
            table = frame.copy()
            table.index = table.index.tz_localize(None).strftime("%Y-%m-%d %H:%M")
            table.rename_axis("Timestamp").to_excel(xl, sheet_name=sheet)
    result = ingest_file(store, book, network=ltown, now=NOW)
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
    ("text", "line", "sensor", "detail"),
    [
        (
            "sensor,time,value,unit\nn1,2020-12-18 00:00,1,m\nn1,2020-12-18 00:05,1\n",
            3,
            "n1",
            "got 3: 'unit' missing",
        ),
        ("sensor,time,value,unit\np227,2020-12-18 00:00\nn1,2020-12-18 00:05,1,m\n", 2, "p227", "got 2"),
        (
            "sensor,time,value,unit\nn1,2020-12-18 00:05,1,m\nn4,2020-12-18 00:05,1,m,extra\n",
            3,
            "n4",
            "extra text after 'unit'",
        ),
    ],
)
def test_a_line_with_too_few_or_too_many_fields_is_quarantined_and_the_rest_stored(
    registered: Store, tmp_path: Path, text: str, line: int, sensor: str, detail: str
) -> None:
    """Was: the whole file refused for one malformed line."""
    path = tmp_path / "broken.csv"
    path.write_text(text)
    result = ingest_file(registered, path, now=NOW)
    assert result.to_dict() == {
        "accepted": 1, "duplicate": 0, "quarantined": 1, "reasons": {"malformed row": 1}
    }  # fmt: skip
    q = registered.quarantined().iloc[0]
    assert (q["sensor"], q["reason"], q["source"]) == (sensor, "malformed row", str(path))
    assert detail in q["detail"]
    payload = json.loads(q["payload"])
    assert payload == {"line": str(line), "text": text.splitlines()[line - 1]}
    assert registered.counts()["readings"] == 1


def test_a_header_without_the_columns_names_file_line_and_field(
    registered: Store, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("sensor,time,unit\nn1,2020-12-18 00:00,m\n")
    with pytest.raises(InputError) as err:
        ingest_file(registered, path, now=NOW)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 1, "value")
    assert registered.counts()["readings"] == 0 and registered.counts()["quarantine"] == 0


def test_bad_battledim_cells_are_quarantined_and_the_rest_stored(
    store: Store, tmp_path: Path, ltown: Network
) -> None:
    """Was: one text cell, even NaN, or one bad timestamp refused the whole folder."""
    folder = tmp_path / "scada"
    write_battledim(folder, small_scada())
    pressures = folder / "Pressures.csv"
    lines = pressures.read_text().splitlines()
    for row, col, text in ((3, 1, "4x.1"), (4, 1, "NaN"), (5, 0, "2020-13-45 00:00")):
        cells = lines[row].split(";")
        cells[col] = text
        lines[row] = ";".join(cells)
    pressures.write_text("\n".join(lines) + "\n")
    result = ingest_file(store, folder, network=ltown, now=NOW)
    # 23 readings: line 4 n1 text, line 5 n1 NaN, line 6 a bad time for n1 and n4
    assert result.to_dict() == {
        "accepted": 19, "duplicate": 0, "quarantined": 4,
        "reasons": {"bad timestamp": 2, "not a number": 1, "not finite": 1},
    }  # fmt: skip
    q = store.quarantined().sort_values(["reason", "sensor"], ignore_index=True)
    payloads = [json.loads(p) for p in q["payload"]]
    assert [(p["sensor"], p["file"], p["line"], p["value"]) for p in payloads] == [
        ("n1", "Pressures.csv", "6", payloads[0]["value"]),
        ("n4", "Pressures.csv", "6", payloads[1]["value"]),
        ("n1", "Pressures.csv", "4", "4x.1"),
        ("n1", "Pressures.csv", "5", "NaN"),
    ]
    assert payloads[0]["time"] == "2020-13-45 00:00"
    assert store.counts()["readings"] == 19


def test_battledim_columns_register_only_elements_of_the_network(
    store: Store, tmp_path: Path, ltown: Network
) -> None:
    """Was: a column for a sensor that exists nowhere in the network was registered silently."""
    scada = small_scada()
    scada.pressure["ghost"] = 50.0
    folder = tmp_path / "scada"
    write_battledim(folder, scada)
    result = ingest_file(store, folder, network=ltown, now=NOW)
    assert result.reasons == {"unknown sensor": 6}
    assert sorted(s.id for s in store.sensors()) == ["amr_n1", "n1", "n4", "p227"]
    assert set(store.quarantined()["sensor"]) == {"ghost"}


def test_without_a_network_battledim_columns_are_not_registered(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "scada"
    write_battledim(folder, small_scada())
    result = ingest_file(store, folder, now=NOW)
    assert (result.accepted, result.reasons) == (0, {"unknown sensor": 23})
    assert list(store.sensors()) == []


def test_epoch_seconds_are_times_in_every_file_format(
    registered: Store, tmp_path: Path, ltown: Network
) -> None:
    """Was: epoch seconds, accepted by the API, were quarantined as bad timestamps from files."""
    t0 = int(pd.Timestamp("2020-12-18", tz="UTC").timestamp())
    long = tmp_path / "long.csv"
    long.write_text(f"sensor,time,value,unit\nn1,{t0},30,m\nn1,{t0 + 300}.0,31,m\n")
    folder = tmp_path / "scada"
    folder.mkdir()
    (folder / "Flows.csv").write_text(f"Timestamp;p227\n{t0};72\n{t0 + 300};36\n")
    parquet = tmp_path / "r.parquet"
    pd.DataFrame({"sensor": ["n4"], "time": [str(t0)], "value": [3.0], "unit": ["bar"]}).to_parquet(
        parquet
    )
    for path in (long, folder, parquet):
        result = ingest_file(registered, path, network=ltown, now=NOW)
        assert result.quarantined == 0 and result.accepted > 0, path
    wide = registered.read(["n1", "n4", "p227"], "2020-12-18", "2020-12-19")
    assert wide.index[0] == pd.Timestamp("2020-12-18", tz="UTC")
    assert wide["n1"].tolist() == [30, 31] and wide["p227"].tolist() == pytest.approx([0.02, 0.01])


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


def test_a_malformed_battledim_line_is_quarantined_with_its_line(
    store: Store, tmp_path: Path, ltown: Network
) -> None:
    """Lines count as in the file: empty lines included, a line with the wrong number of cells one
    malformed row (its text kept), the rest stored."""
    folder = tmp_path / "scada"
    folder.mkdir()
    (folder / "Pressures.csv").write_text(
        "Timestamp;n1;n4\n2020-12-18 00:00;30,5;40\n\n2020-12-18 00:05;31;41\n"
        "2020-12-18 00:10;;42;9\n\n2020-12-18 00:15;32;abc\n"
    )
    result = ingest_file(store, folder, network=ltown, now=NOW)
    assert (result.accepted, result.reasons) == (5, {"malformed row": 1, "not a number": 1})
    q = store.quarantined().set_index("reason")
    malformed = json.loads(q.loc["malformed row", "payload"])
    assert malformed == {"file": "Pressures.csv", "line": "5", "text": "2020-12-18 00:10;;42;9"}
    assert "expected 3 fields" in q.loc["malformed row", "detail"]
    assert json.loads(q.loc["not a number", "payload"])["line"] == "7"
    wide = store.read(["n1", "n4"], "2020-12-18", "2020-12-19")
    assert wide["n1"].tolist() == [30.5, 31, 32] and wide["n4"].dropna().tolist() == [40, 41]
