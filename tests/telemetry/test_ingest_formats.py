"""One ingestion behaviour for every format: the same bad cells give the same quarantine.

The same twelve readings (five good, seven bad in the ways a field sends them) go in as a BattLeDIM
folder, a workbook, a long CSV, Parquet, HTTP JSON, SenML and CSV bodies and MQTT messages; each
format stores the five good readings and quarantines the seven bad ones with the same reasons.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from tirta.network import load_network
from tirta.network.model import Network, builtin_network_path
from tirta.network.sensors import make_sensor
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.ingest.http import ingest_body
from tirta.telemetry.ingest.mqtt import MqttConfig, MqttIngester
from tirta.telemetry.schema import IngestResult
from tirta.telemetry.store import Store

T = [pd.Timestamp("2020-12-18", tz="UTC") + pd.Timedelta(minutes=5 * i) for i in range(4)]
EPOCH = int(T[3].timestamp())
BAD_TIME = "2020-13-45 00:00"
FUTURE = "2099-01-01 00:00"
# (time text, n1, n4, ghost): one wide row each; None is an empty cell
ROWS: list[tuple[str, str | None, str | None, str | None]] = [
    (T[0].strftime("%Y-%m-%d %H:%M"), "30", "40", "1"),  # ghost: a sensor nowhere in the network
    (T[1].strftime("%Y-%m-%d %H:%M"), "abc", "41", None),  # text
    (T[2].strftime("%Y-%m-%d %H:%M"), "NaN", "42", None),  # NaN
    (BAD_TIME, "31", "43", None),  # a bad timestamp: both cells
    (FUTURE, "32", None, None),  # in the future
    (str(EPOCH), "999", "44", None),  # epoch seconds (fine), 999 m out of range
]
SENSORS = ("n1", "n4", "ghost")
EXPECTED = {
    "accepted": 5,
    "duplicate": 0,
    "quarantined": 7,
    "reasons": {
        "unknown sensor": 1,
        "not a number": 1,
        "not finite": 1,
        "bad timestamp": 2,
        "future": 1,
        "out of range": 1,
    },
}
GOOD = {"n1": [30.0], "n4": [40.0, 41.0, 42.0, 44.0]}


def long_rows() -> list[tuple[str, str, str, int]]:
    """(sensor, time, value, line of the wide file) of every non-empty cell, time-major."""
    return [
        (sensor, row[0], cell, line)
        for line, row in enumerate(ROWS, start=2)
        for sensor, cell in zip(SENSORS, row[1:], strict=True)
        if cell is not None
    ]


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return text if value != value else value  # NaN stays text: JSON has no NaN


def _json_time(text: str) -> Any:
    return int(text) if text.isdigit() else text


@pytest.fixture(scope="module")
def ltown() -> Network:
    return load_network(builtin_network_path("l-town"))


def battledim(tmp: Path, _net: Network) -> Path:
    folder = tmp / "scada"
    folder.mkdir()
    lines = ["Timestamp;" + ";".join(SENSORS)]
    lines += [";".join(c or "" for c in row) for row in ROWS]
    (folder / "Pressures.csv").write_text("\n".join(lines) + "\n")
    return folder


def workbook(tmp: Path, _net: Network) -> Path:
    book = tmp / "scada.xlsx"
    frame = pd.DataFrame([list(row) for row in ROWS], columns=["Timestamp", *SENSORS])
    frame.to_excel(book, sheet_name="Pressures (m)", index=False)
    return book


def long_csv(tmp: Path, _net: Network) -> Path:
    path = tmp / "long.csv"
    body = "".join(f"{s},{t},{v},m\n" for s, t, v, _ in long_rows())
    path.write_text("sensor,time,value,unit\n" + body)
    return path


def parquet(tmp: Path, _net: Network) -> Path:
    path = tmp / "long.parquet"
    rows = long_rows()
    pd.DataFrame(
        {
            "sensor": [r[0] for r in rows],
            "time": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "unit": ["m"] * len(rows),
        }
    ).to_parquet(path)
    return path


def http_json(store: Store) -> IngestResult:
    body = [
        {"sensor": s, "t": _json_time(t), "v": _number(v), "unit": "m"} for s, t, v, _ in long_rows()
    ]
    return ingest_body(store, json.dumps(body).encode(), "json", source="http:test")


def http_csv(store: Store) -> IngestResult:
    text = "sensor,time,value,unit\n" + "".join(f"{s},{t},{v},m\n" for s, t, v, _ in long_rows())
    return ingest_body(store, text.encode(), "csv", source="http:test")


def senml(store: Store) -> IngestResult:
    def t(text: str) -> float:  # SenML times are numbers: a bad one is beyond any calendar
        if text == BAD_TIME:
            return 1e15
        return float(text) if text.isdigit() else pd.Timestamp(text, tz="UTC").timestamp()

    records: list[dict[str, Any]] = [{"bu": "m"}]
    for s, time, v, _ in long_rows():
        value = _number(v)
        records.append({"n": s, "t": t(time), "v" if isinstance(value, float) else "vs": value})
    return ingest_body(store, json.dumps(records).encode(), "json", source="http:test")


def mqtt_messages(store: Store) -> IngestResult:
    ingester = MqttIngester(store, MqttConfig(broker="mqtt://127.0.0.1:1"))
    for i, (s, t, v, _) in enumerate(long_rows()):
        msg = mqtt.MQTTMessage(mid=i + 1, topic=b"tirta/plant/readings")
        msg.payload = json.dumps(
            {"sensor": s, "t": _json_time(t), "v": _number(v), "unit": "m"}
        ).encode()
        msg.qos = 0
        ingester._on_message(ingester.client, None, msg)
    return ingester.flush()


FILES = {"battledim": battledim, "workbook": workbook, "long csv": long_csv, "parquet": parquet}
BODIES = {"http json": http_json, "http csv": http_csv, "senml": senml, "mqtt": mqtt_messages}


def _register(store: Store) -> None:
    store.add_sensors([make_sensor({"id": s, "kind": "pressure", "unit": "m"}) for s in ("n1", "n4")])


def _check_store(store: Store, result: IngestResult) -> pd.DataFrame:
    assert result.to_dict() == EXPECTED
    wide = store.read(["n1", "n4"], "2020-12-17", "2020-12-19")
    assert {c: wide[c].dropna().tolist() for c in wide.columns} == GOOD
    q = store.quarantined()
    assert q["reason"].value_counts().to_dict() == EXPECTED["reasons"]
    assert (q["sensor"] == "ghost").sum() == 1
    return q


@pytest.mark.parametrize("fmt", list(FILES))
def test_the_same_bad_cells_give_the_same_quarantine_in_every_file_format(
    store: Store, tmp_path: Path, ltown: Network, fmt: str
) -> None:
    """Was: a BattLeDIM folder with one text cell or bad time was refused whole, nothing stored."""
    path = FILES[fmt](tmp_path, ltown)
    if fmt in ("long csv", "parquet"):  # the wide layout registers its columns on the network
        _register(store)
    q = _check_store(store, ingest_file(store, path, network=ltown))
    payloads = q.set_index("reason")["payload"].map(json.loads)
    bad_text = payloads["not a number"]
    assert bad_text["value"] == "abc" and bad_text["sensor"] == "n1"
    assert payloads["future"]["time"] == FUTURE
    line = {"battledim": "3", "workbook": "3", "long csv": "5", "parquet": "4"}[fmt]
    key = "row" if fmt == "parquet" else "line"
    assert bad_text[key] == line  # the line of the file (Parquet: its row number)
    if fmt in ("battledim", "workbook"):
        assert "Pressures" in bad_text["file"]
        assert sorted(s.id for s in store.sensors()) == ["n1", "n4"]  # not the ghost


@pytest.mark.parametrize("fmt", list(BODIES))
def test_the_same_bad_cells_give_the_same_quarantine_over_http_and_mqtt(
    store: Store, fmt: str, ltown: Network
) -> None:
    _register(store)
    q = _check_store(store, BODIES[fmt](store))
    assert q.set_index("reason").loc["not a number", "sensor"] == "n1"
