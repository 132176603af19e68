"""Bulk ingestion (the path files take) on both stores: same rules, counts and history as small batches.

A batch of ``bulk_rows`` or more is checked and merged in one transaction (inside DuckDB itself for the
DuckDB store); these tests make batches that large, out of order, with repeats and bad records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tirta.network.sensors import Sensor, SensorRegistry
from tirta.telemetry.ingest import ingest_records
from tirta.telemetry.store import Store
from tirta.telemetry.validate import validate

NOW = pd.Timestamp("2021-01-01", tz="UTC")
N = 12_000  # above Store.bulk_rows


def bulk(n: int = N, *, seed: int = 0, shuffle: bool = True) -> pd.DataFrame:
    """n text records for n1 and p227 (m and m3/h), shuffled, with a few bad ones and repeats."""
    times = pd.date_range("2020-11-01", periods=n // 2, freq="5min", tz="UTC")
    frame = pd.DataFrame(
        {
            "sensor": np.repeat(["n1", "p227"], n // 2),
            "time": np.tile(times.strftime("%Y-%m-%dT%H:%M:%SZ"), 2),
            "value": np.concatenate([np.linspace(20, 40, n // 2), np.linspace(36, 72, n // 2)]).round(3),
            "unit": np.repeat(["m", "m3/h"], n // 2),
        }
    ).astype({"value": str})
    frame.loc[[5, 17], "value"] = ["abc", "1e9"]  # not a number, out of range
    frame.loc[40, "sensor"] = "n1'); DROP TABLE readings; --"
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame


def expected(frame: pd.DataFrame, sensors: list[Sensor]) -> pd.DataFrame:
    """What the pure validation keeps: the oracle the stores must agree with."""
    registry = SensorRegistry()
    for s in sensors:
        registry.add(s)
    return validate(frame, registry, source="x", now=NOW).readings


@pytest.mark.parametrize("shuffle", [True, False])
def test_bulk_batch_is_stored_exactly_once_with_its_rejects(
    registered: Store, sensors: list[Sensor], shuffle: bool
) -> None:
    raw = bulk(shuffle=shuffle)
    first = ingest_records(registered, raw, source="file", now=NOW)
    assert first.accepted == N - 3 and first.duplicate == 0
    assert first.reasons == {"not a number": 1, "out of range": 1, "unknown sensor": 1}
    q = registered.quarantined().set_index("reason")
    assert "DROP TABLE" in q.loc["unknown sensor", "payload"] and q.loc["not a number", "detail"]
    again = ingest_records(registered, raw, source="file", now=NOW)
    assert (again.accepted, again.duplicate, again.quarantined) == (0, N - 3, 3)
    counts = registered.counts()
    assert counts["readings"] == N - 3 and counts["quarantine"] == 3
    want = expected(raw, sensors).pivot(index="time", columns="sensor", values="value")
    got = registered.read(["n1", "p227"], "2020-11-01", "2020-12-01")
    pd.testing.assert_frame_equal(
        got, want.reindex(columns=["n1", "p227"]), check_names=False, check_freq=False
    )


def test_bulk_repeats_in_the_batch_are_duplicates_or_corrections_in_input_order(
    registered: Store,
) -> None:
    raw = bulk(shuffle=False)
    resent = raw.iloc[100:110]  # the same readings again: duplicates
    conflicting = raw.iloc[200:205].assign(value="12.5")  # same keys, other values: corrections
    twice = raw.iloc[300:303].assign(value="13.5")  # corrected twice: 13.5, then 14.5
    batch = pd.concat([raw, resent, conflicting, twice, twice.assign(value="14.5")], ignore_index=True)
    batch = batch.sample(frac=1.0, random_state=3)
    result = ingest_records(registered, batch, source="file", now=NOW)
    # each later value of a key replaces the one before it, as if each came in a batch of its own
    keys = batch.assign(order=np.arange(len(batch)))
    keys = keys[keys.index.isin([*range(200, 205), *range(300, 303)]) | (keys.index >= N + 10)]
    changes = sum(
        int((g["value"] != g["value"].shift()).sum()) - 1
        for _, g in keys.sort_values("order").groupby(["sensor", "time"])
    )
    assert changes >= 8  # the shuffle keeps most of the corrections corrections
    assert result.duplicate == 10 + (len(keys) - 8 - changes)
    assert (result.accepted, result.corrected) == (N - 3 + changes, changes)
    assert result.reasons == {"not a number": 1, "out of range": 1, "unknown sensor": 1}
    last = keys.sort_values("order").drop_duplicates(["sensor", "time"], keep="last")
    wide = registered.read(["n1"], "2020-11-01", "2020-12-01")
    for _, rec in last.iterrows():  # the last value seen wins
        assert wide.loc[pd.Timestamp(rec["time"]), "n1"] == pytest.approx(float(rec["value"]))
    history = registered.corrections("n1")
    assert len(history) == changes and set(history["replaced_by"]) == {"file"}
    assert registered.counts()["readings"] == N - 3


def test_bulk_corrections_keep_history(registered: Store) -> None:
    raw = bulk(shuffle=False)
    ingest_records(registered, raw, source="first", now=NOW)
    fixed = raw.copy()
    fixed.loc[1000:1004, "value"] = "33.3"
    result = ingest_records(registered, fixed, source="second", now=NOW)
    assert (result.accepted, result.corrected, result.duplicate) == (5, 5, N - 3 - 5)
    history = registered.corrections("n1")
    assert len(history) == 5 and set(history["replaced_by"]) == {"second"}
    wide = registered.read(["n1"], "2020-11-01", "2020-12-01")
    times = pd.to_datetime(raw.loc[1000:1004, "time"], utc=True)
    assert (wide.loc[times, "n1"] == 33.3).all()


def test_bulk_failure_leaves_the_store_as_it_was(
    registered: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_records(registered, bulk(shuffle=False).iloc[:50], source="a", now=NOW)
    before = registered.counts()
    import tirta.telemetry.store.base as base

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    # the quarantine write fails after the readings were merged: the whole batch must roll back
    monkeypatch.setattr(base, "_quarantine", broken, raising=True)
    import tirta.telemetry.store.duckdb as duck

    monkeypatch.setattr(duck, "_quarantine", broken, raising=True)
    import tirta.telemetry.store.postgres.write as pg_write

    monkeypatch.setattr(pg_write, "_quarantine", broken, raising=True)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_records(registered, bulk(shuffle=True), source="b", now=NOW)
    assert registered.counts() == before


def test_an_arrow_table_is_taken_as_is(registered: Store) -> None:
    raw = pa.Table.from_pandas(bulk(shuffle=True), preserve_index=False)
    result = ingest_records(registered, raw, source="arrow", now=NOW)
    assert result.accepted == N - 3 and result.quarantined == 3


def test_a_writer_racing_to_the_same_keys_is_merged_not_doubled(
    registered: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL copies a new time range straight into readings; when another writer stored some of
    its keys in between (simulated: the freshness check is told the range is new), the copy fails on
    the key, its savepoint is rolled back and the batch is merged key by key."""
    if not registered.url.startswith("postgresql"):
        pytest.skip("the straight copy is PostgreSQL's")
    import tirta.telemetry.store.postgres as pg
    import tirta.telemetry.store.postgres.write as pg_write

    monkeypatch.setattr(pg.PostgresStore, "block_rows", 10**9)  # the row path: no blocks
    first = ingest_records(registered, bulk(shuffle=False).iloc[:6000], source="a", now=NOW)
    monkeypatch.setattr(pg_write, "FRESH", "SELECT %(t0)s IS NOT NULL OR %(t1)s IS NULL", raising=True)
    copied: list[str] = []
    copy = pg.PostgresStore._copy_readings

    def spy(cur: object, table: str, *args: object) -> None:
        copied.append(table)
        copy(cur, table, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pg.PostgresStore, "_copy_readings", staticmethod(spy))
    again = ingest_records(registered, bulk(shuffle=True), source="b", now=NOW)
    assert copied == ["readings", "_in"]  # the straight copy failed on a key, then the merge
    assert again.accepted + again.duplicate == N - 3
    assert again.duplicate == first.accepted and again.corrected == 0
    assert registered.counts()["readings"] == N - 3
