"""Quarantine review on both stores: list with reason, source, payload and line; release after a fix
(re-validated, stored, audited); rows that still fail stay; malformed rows cannot be released; drop."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tirta.cli import main
from tirta.errors import InputError
from tirta.network.sensors import make_sensor
from tirta.telemetry import review
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.store import Store

NOW = pd.Timestamp("2024-02-01", tz="UTC")
CSV = """sensor,time,value,unit
n1,2024-01-01T00:00:00Z,30,m
zz,2024-01-01T00:05:00Z,2.5,bar
zz,2024-01-01T00:10:00Z,2.6,bar
n1,2024-01-01T00:15:00Z,31,kg
n1,2024-01-01T00:20:00Z
"""


@pytest.fixture
def quarantined(store: Store, tmp_path: Path) -> Store:
    store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    path = tmp_path / "readings.csv"
    path.write_text(CSV, encoding="utf-8")
    got = ingest_file(store, path, now=NOW)
    assert got.accepted == 1 and got.quarantined == 4
    return store


def test_list_has_reason_source_payload_and_line(quarantined: Store) -> None:
    rows = review.entries(quarantined)
    by_line = {r["line"]: r for r in rows}
    assert set(by_line) == {3, 4, 5, 6}
    assert by_line[3]["reason"] == "unknown sensor" and by_line[3]["sensor"] == "zz"
    assert by_line[5]["reason"] == "unit not convertible"
    assert by_line[6]["reason"] == "malformed row" and "n1,2024-01-01T00:20:00Z" in by_line[6]["payload"]
    assert all(r["source"].endswith("readings.csv") for r in rows)
    assert [r["line"] for r in review.entries(quarantined, reason="unknown sensor")] in ([3, 4], [4, 3])


def test_release_after_registering_the_sensor(quarantined: Store) -> None:
    quarantined.add_sensors([make_sensor({"id": "zz", "kind": "pressure", "unit": "bar"})])
    got = review.release(quarantined, reason="unknown sensor", who="ana", note="logger zz installed")
    assert got.stored == 2 and got.dropped == 2 and got.still_failing == {}
    wide = quarantined.read(["zz"], "2024-01-01", "2024-01-02")
    assert wide["zz"].dropna().round(3).tolist() == [25.493, 26.513]  # bar → m of head
    assert {r["reason"] for r in review.entries(quarantined)} == {
        "unit not convertible",
        "malformed row",
    }
    log = review.audit_log(quarantined)
    assert (
        len(log) == 2
        and {a["who"] for a in log} == {"ana"}
        and {a["outcome"] for a in log} == {"re-validated"}
    )


def test_unfixed_rows_stay_and_malformed_rows_are_not_releasable(quarantined: Store) -> None:
    got = review.release(quarantined, sensor="n1", who="ana")
    assert (
        got.stored == 0 and got.still_failing == {"unit not convertible": 1} and got.not_releasable == 1
    )
    assert len(review.entries(quarantined)) == 4  # nothing lost
    with pytest.raises(InputError, match="name the rows"):
        review.release(quarantined, who="ana")
    with pytest.raises(InputError, match="no quarantined row"):
        review.release(quarantined, ["nope"], who="ana")


def test_drop_is_audited(quarantined: Store) -> None:
    key = review.entries(quarantined, reason="malformed row")[0]["key"]
    assert review.drop(quarantined, [key], who="budi", note="test line").dropped == 1
    assert len(review.entries(quarantined)) == 3
    [entry] = review.audit_log(quarantined)
    assert entry["action"] == "drop" and entry["who"] == "budi" and entry["key"] == key


def test_cli_contract(quarantined: Store, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    quarantined.close()
    with pytest.raises(SystemExit) as done:
        main(["quarantine", "list", "--store", store_url, "--reason", "unknown sensor", "--json"])
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), err
    rows = json.loads(out)
    assert len(rows) == 2 and {"reason", "source", "payload", "line", "key"} <= set(rows[0])
    with pytest.raises(SystemExit) as done:
        main(["quarantine", "drop", rows[0]["key"][:12], "--store", store_url, "--who", "cli-test"])
    out, _ = capsys.readouterr()
    assert json.loads(out)["dropped"] == 1
