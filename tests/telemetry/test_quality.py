"""Data quality: injected simulator faults are flagged on the right sensor; flags live in the store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import LTOWN
from tirta.cli import main
from tirta.errors import InputError
from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, simulate
from tirta.network import load_network, load_sensors
from tirta.telemetry.quality import detect, gaps, mask_flags, spikes, stuck
from tirta.telemetry.store import Store, open_store

TRAIN_DAYS = 3


@pytest.fixture(scope="module", params=[0, 2])
def sim(request: pytest.FixtureRequest) -> SimulationResult:
    """4 days of L-Town telemetry after 3 fault-free days, 8 injected sensor faults, no leaks."""
    net = load_network(LTOWN)
    sensors = load_sensors(LTOWN.with_name("sensors.json"), net)
    cfg = SimulationConfig(days=4, train_days=TRAIN_DAYS, leaks=(0, 0), seed=request.param, faults=8)
    return simulate(net, cfg, sensors=sensors)


def _split(sim: SimulationResult) -> pd.Timestamp:
    return sim.scada.pressure.index[0] + pd.Timedelta(days=TRAIN_DAYS)


def test_injected_pressure_faults_are_flagged_and_clean_sensors_mostly_not(
    sim: SimulationResult,
) -> None:
    split = _split(sim)
    wide = sim.scada.pressure
    evaluation, train = wide.loc[split:], wide.loc[: split - pd.Timedelta(seconds=1)]
    flags = detect(evaluation, train=train)
    faults = sim.faults[sim.faults["kind"] == "pressure"]
    assert set(faults["fault"]) >= {"gap", "spike", "drift"}  # the seeds exercise these kinds
    for fault in faults.itertuples():
        hit = flags[
            (flags["sensor"] == fault.sensor)
            & (flags["kind"] == fault.fault)
            & (flags["start"] <= fault.end)
            & (flags["end"] >= fault.start)
        ]
        assert len(hit), f"{fault.fault} on {fault.sensor} from {fault.start} not flagged"
    # false flags: flagged readings of a sensor outside its faults (±1 h), over all such readings
    faulty = np.zeros(evaluation.shape, dtype=bool)
    flagged = np.zeros(evaluation.shape, dtype=bool)
    index = evaluation.index
    for f in faults.itertuples():
        col = evaluation.columns.get_loc(f.sensor)
        hour = pd.Timedelta(hours=1)
        faulty[(index >= f.start - hour) & (index <= f.end + hour), col] = True
    for f in flags.itertuples():
        flagged[(index >= f.start) & (index <= f.end), evaluation.columns.get_loc(f.sensor)] = True
    rate = (flagged & ~faulty).sum() / (~faulty).sum()
    assert rate < 0.01
    clean = set(evaluation.columns) - set(faults["sensor"])
    assert len(clean & set(flags["sensor"])) <= 0.1 * len(clean)


def test_flow_meters_stuck_and_gap_are_flagged(sim: SimulationResult) -> None:
    # drift on three flow meters is out of reach: they have no well correlated neighbours
    split = _split(sim)
    flow = sim.scada.flow.loc[split:]
    flags = detect(flow, train=sim.scada.flow.loc[: split - pd.Timedelta(seconds=1)])
    faults = sim.faults[(sim.faults["kind"] == "flow") & sim.faults["fault"].isin(["gap", "stuck"])]
    for fault in faults.itertuples():
        hit = (flags["sensor"] == fault.sensor) & (flags["kind"] == fault.fault)
        assert (hit & (flags["start"] <= fault.end) & (flags["end"] >= fault.start)).any()
    assert set(flags["sensor"]) <= set(sim.faults["sensor"])  # no flag on a clean flow meter


def test_each_detector_on_a_handmade_series() -> None:
    index = pd.date_range("2021-01-01", periods=200, freq="5min", tz="UTC")
    rng = np.random.default_rng(1)
    base = 40 + np.sin(np.arange(200) / 20) + rng.normal(0, 0.02, 200)
    wide = pd.DataFrame({"a": base, "z": np.where(np.arange(200) < 100, 0.0, 1.0)}, index=index)
    wide.iloc[50:70, 0] = wide.iloc[50, 0]  # stuck for 20 readings
    wide.iloc[120, 0] += 10.0  # a spike
    wide.iloc[150:155, 0] = np.nan  # a gap of 5
    s = stuck(wide)
    # z reads an honest zero for 100 readings (not stuck), then a constant 1.0 (stuck)
    assert s[["sensor", "start", "end"]].values.tolist() == [
        ["a", index[50], index[69]],
        ["z", index[100], index[199]],
    ]
    assert spikes(wide)[["sensor", "start", "end"]].values.tolist() == [["a", index[120], index[120]]]
    g = gaps(wide.drop(index[180:185]))  # rows absent altogether count as missing too
    assert g[["sensor", "start", "end"]].values.tolist() == [
        ["a", index[150], index[154]],
        ["a", index[180], index[184]],
        ["z", index[180], index[184]],
    ]
    masked = mask_flags(wide, s[s["sensor"] == "a"])
    assert masked["a"].iloc[50:70].isna().all() and masked["a"].iloc[70:].notna().sum() == 125


def test_flags_round_trip_and_clean_reads(store: Store) -> None:
    times = pd.date_range("2021-01-01", periods=12, freq="5min", tz="UTC")
    rows = pd.DataFrame({"sensor": "n1", "time": times, "value": np.arange(12.0)})
    store.write(pd.concat([rows, rows.assign(sensor="n2")]), source="test")
    flags = pd.DataFrame(
        {
            "sensor": ["n1", "n2"],
            "start": [times[2], times[0]],
            "end": [times[4], times[0]],
            "kind": ["stuck", "spike"],
            "detail": ["constant", "+10"],
        }
    )
    assert store.add_flags(flags) == 2
    assert store.add_flags(flags.assign(detail=["again", "+10"])) == 2  # same key: replaced
    got = store.flags()
    assert got["sensor"].tolist() == ["n1", "n2"] and got["detail"].tolist() == ["again", "+10"]
    assert got["start"].tolist() == [times[2], times[0]]
    assert store.flags(["n2"])["kind"].tolist() == ["spike"]
    assert store.flags(None, times[5], times[11]).empty
    assert store.flags(None, times[4], times[11])["sensor"].tolist() == ["n1"]
    raw = store.read(["n1", "n2"], times[0], times[-1] + pd.Timedelta("5min"))
    assert raw["n1"].tolist() == list(np.arange(12.0))
    clean = store.read(["n1", "n2"], times[0], times[-1] + pd.Timedelta("5min"), clean=True)
    assert clean["n1"].isna().tolist() == [i in (2, 3, 4) for i in range(12)]
    assert clean["n2"].isna().tolist() == [i == 0 for i in range(12)]
    hourly = store.read(["n1"], times[0], times[0] + pd.Timedelta("1h"), every="1h", clean=True)
    assert hourly["n1"].iloc[0] == pytest.approx(np.mean([0, 1, 5, 6, 7, 8, 9, 10, 11]))
    with pytest.raises(InputError):
        store.add_flags(flags.assign(kind="bogus"))


def test_cli_detects_stores_and_lists_flags(
    capsys: pytest.CaptureFixture[str], store_url: str, sim: SimulationResult
) -> None:
    with open_store(store_url) as st:
        st.add_sensors(sim.sensors)
        wide = sim.scada.pressure
        long = wide.rename_axis("time").reset_index().melt("time", var_name="sensor").dropna()
        st.write(long, source="sim")
    split = _split(sim)
    args = ["readings", "flags", "--store", store_url, "--from", str(split), "--to", "2021-01-08"]
    with pytest.raises(SystemExit) as done:
        main([*args, "--detect", "--train-days", str(TRAIN_DAYS), "--json"])
    assert done.value.code in (0, None)
    listed = json.loads(capsys.readouterr().out)
    faults = sim.faults[sim.faults["kind"] == "pressure"]
    expected = {(f.sensor, f.fault) for f in faults.itertuples()}
    assert expected <= {(f["sensor"], f["kind"]) for f in listed}
    with pytest.raises(SystemExit):
        main(["readings", "flags", "--store", store_url, "--sensors", faults["sensor"].iloc[0]])
    out = capsys.readouterr().out.splitlines()
    assert out and all(line.split("\t")[0] == faults["sensor"].iloc[0] for line in out)
    spike = next(f for f in listed if f["kind"] == "spike")
    query = ["readings", "query", "--store", store_url, "--sensors", spike["sensor"], "--format", "json"]
    window = ["--from", spike["start"], "--to", str(pd.Timestamp(spike["end"]) + pd.Timedelta("5min"))]
    for extra, missing in (([], False), (["--clean"], True)):
        with pytest.raises(SystemExit):
            main([*query, *window, *extra])
        values = [row[next(iter(set(row) - {"time"}))] for row in json.loads(capsys.readouterr().out)]
        assert values and all((v is None) == missing for v in values)
