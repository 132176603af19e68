"""Retention and rollups: pruned raw readings still answer resampled reads, identically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tirta.cli import main
from tirta.telemetry.store import Store, open_store

START = pd.Timestamp("2021-01-01", tz="UTC")
NOW = pd.Timestamp("2021-01-04 06:00", tz="UTC")


def _three_days(seed: int = 0) -> pd.DataFrame:
    """Two sensors every 5 min over three days, with a missing hour on one of them."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(START, periods=3 * 288, freq="5min", tz="UTC")
    frames = []
    for sensor in ("a", "b"):
        values = 40 + 5 * np.sin(np.arange(len(times)) / 30) + rng.normal(0, 0.5, len(times))
        frames.append(pd.DataFrame({"sensor": sensor, "time": times, "value": values}))
    long = pd.concat(frames, ignore_index=True)
    missing = (long["sensor"] == "b") & long["time"].between(
        START + pd.Timedelta("5h"), START + pd.Timedelta("6h")
    )
    return long[~missing]


def _all_reads(store: Store) -> dict[tuple[str, str], pd.DataFrame]:
    end = START + pd.Timedelta(days=3)
    return {
        (every, agg): store.read(["a", "b"], START, end, every=every, agg=agg)
        for every in ("5min", "1h", "1d")
        for agg in ("mean", "min", "max", "count")
    }


def test_prune_keeps_resampled_reads_identical(store: Store) -> None:
    long = _three_days()
    store.write(long, source="test")
    # a correction inside the days to prune must reach the rollups
    store.write(long.iloc[[3]].assign(value=99.0), source="fix")
    before = _all_reads(store)
    assert before[("1d", "count")]["b"].tolist() == [288 - 13, 288, 288]
    assert before[("5min", "max")]["a"].iloc[3] == 99.0

    deleted = store.prune(1.5, now=NOW)  # cut at 2021-01-02 00:00
    cut = pd.Timestamp("2021-01-02", tz="UTC")
    assert store.pruned_before() == cut
    assert deleted == int((long["time"] < cut).sum())
    assert store.counts()["readings"] == len(long) - deleted
    assert store.read(["a", "b"], START, cut).empty  # raw rows are gone
    after = _all_reads(store)
    for key, frame in before.items():
        pd.testing.assert_frame_equal(after[key], frame, check_exact=False, rtol=1e-12, obj=str(key))

    assert store.prune(1.5, now=NOW) == 0  # nothing more to do
    # day 1 rolled up: 288 + 24 + 1 buckets per sensor; b lacks 13 five-minute buckets and 1 hour
    assert store.counts()["rollups"] == 2 * (288 + 24 + 1) - 13 - 1
    written = store.rollup()  # the raw days too, as ingestion may ask
    assert written == 2 * 2 * (288 + 24 + 1)
    assert store.rollup() == written  # idempotent: the same buckets rewritten
    assert store.counts()["rollups"] == 2 * 3 * (288 + 24 + 1) - 13 - 1
    pd.testing.assert_frame_equal(_all_reads(store)[("1h", "mean")], before[("1h", "mean")])


def test_reads_straddling_the_cut_and_later_writes(store: Store) -> None:
    store.write(_three_days(), source="test")
    store.prune(1.5, now=NOW)
    hourly = store.read(["a"], START + pd.Timedelta("20h"), START + pd.Timedelta("28h"), every="1h")
    assert len(hourly) == 8 and hourly["a"].notna().all()
    later = pd.DataFrame(
        {"sensor": "a", "time": [pd.Timestamp("2021-01-03 12:02", tz="UTC")], "value": [1000.0]}
    )
    store.write(later, source="late")
    day = store.read(["a"], "2021-01-03", "2021-01-04", every="1d", agg="max")
    assert day["a"].iloc[0] == 1000.0  # after the cut, reads see raw rows at once
    store.rollup("2021-01-03 12:00", "2021-01-03 12:05")
    store.prune(0, now="2021-01-04 01:00")
    assert store.read(["a"], "2021-01-03", "2021-01-04", every="1d", agg="max")["a"].iloc[0] == 1000.0
    assert store.read(["a"], "2021-01-03", "2021-01-04", every="1d", agg="count")["a"].iloc[0] == 289


def test_prune_cli(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    with open_store(store_url) as st:
        st.write(_three_days(), source="test")
    with pytest.raises(SystemExit) as done:
        main(["readings", "prune", "--keep-days", "1.5", "--now", str(NOW), "--store", store_url])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.strip() == "563 raw readings deleted; raw readings kept from 2021-01-02 00:00Z"
