"""The leak pipeline on stored telemetry: a simulated L-Town store, events opened once, the CLI.

Scenario (seed 12, abrupt leaks only, always repaired): 7 leak-free days, then one abrupt leak on
p779 (≈ 5.7 L/s) from 2021-01-09 15:50 to its repair at 2021-01-11 01:50; data end 2021-01-13.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import LTOWN
from tirta.cli import main
from tirta.hydraulics.simulate import SimulationConfig, simulate
from tirta.leaks.evaluate import PipeDistances
from tirta.leaks.events import list_events, transition
from tirta.leaks.live import run_live
from tirta.network import load_dmas, load_network, load_sensors
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.store import open_store

pytestmark = pytest.mark.slow

TRAIN = ("2021-01-01", "2021-01-08")
END = pd.Timestamp("2021-01-13", tz="UTC")


@pytest.fixture(scope="module")
def net():
    return load_network(LTOWN)


@pytest.fixture(scope="module")
def scenario(net, tmp_path_factory):
    """The simulated folders, the truth row and a DuckDB file holding all of it (copy before use)."""
    root = tmp_path_factory.mktemp("live")
    cfg = SimulationConfig(
        days=5, train_days=7, leaks=(1, 1), seed=12, incipient_share=0.0,
        repair_probability=1.0, leak_diameter_m=(0.014, 0.02),
    )  # fmt: skip
    sim = simulate(
        net, cfg, sensors=load_sensors(LTOWN.with_name("sensors.json"), net), out=root / "sim"
    )
    truth = sim.truth
    assert len(truth) == 1 and truth["linkID"].iloc[0] == "p779", "scenario changed: pick another seed"
    db = root / "base.duckdb"
    with open_store(f"duckdb:///{db}") as st:
        for part in ("train", "eval"):
            ingest_file(st, root / "sim" / part, sensors_file=root / "sim" / "sensors.json")
    return truth.iloc[0], db


@pytest.fixture
def store_file(scenario, tmp_path) -> Path:
    path = tmp_path / "tirta.duckdb"
    shutil.copy(scenario[1], path)
    return path


def test_live_run_opens_one_event_near_the_leak_and_a_rerun_opens_nothing(net, scenario, store_file):
    truth, _ = scenario
    dmas = load_dmas(LTOWN.with_name("L-TOWN.dmas.toml"), net)
    now = truth["end"] - pd.Timedelta(hours=6)  # the leak is running
    with open_store(f"duckdb:///{store_file}") as st:
        first = run_live(st, net, train=TRAIN, dmas=dmas, now=now)
        assert len(first.opened) == 1 and not first.updated
        (event,) = list_events(st)
        assert event.status == "open" and event.dma == "A" and event.zone == "zone:p227+p235"
        assert PipeDistances(net).between(event.pipe, truth["linkID"]) <= 300.0
        assert abs(event.start - truth["start"]) <= pd.Timedelta(minutes=30)
        assert event.size_lps == pytest.approx(truth["max_lps"], rel=0.3)
        assert len(event.candidates) > 1 and event.candidates[0]["pipe"] == event.pipe
        second = run_live(st, net, train=TRAIN, dmas=dmas, now=now)
        assert second.opened == [] and second.updated == [] and second.unchanged == first.opened
        assert len(st.events()) == 1 and len(st.event_history(event.id)) == 1


def test_no_close_proposal_while_the_leak_still_runs(net, scenario, store_file):
    truth, _ = scenario
    early = truth["end"] - pd.Timedelta(hours=8)  # the crew says "repaired", but the leak runs on
    with open_store(f"duckdb:///{store_file}") as st:
        (eid,) = run_live(st, net, train=TRAIN, now=early).opened
        for status in ("acknowledged", "dispatched", "repaired"):
            transition(st, eid, status, who="crew", at=early)
        res = run_live(st, net, train=TRAIN, now=truth["end"])
        assert res.proposed == [] and res.opened == [] and res.known == [eid]
        assert list_events(st)[0].close_proposed is None
        # once the real repair shows in the data for a few hours, tirta proposes closing
        res = run_live(st, net, train=TRAIN, now=truth["end"] + pd.Timedelta(hours=12))
        assert res.proposed == [eid] and res.opened == []
        assert "back to baseline" in list_events(st)[0].close_proposed


def _tirta(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``tirta ARGS`` in this process (the CLI takes ~6 s to start): exit code, stdout, stderr."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_run_events_lifecycle_and_close_proposal(scenario, store_file, capsys):
    truth, _ = scenario
    url = f"duckdb:///{store_file}"
    mid = truth["end"] - pd.Timedelta(hours=6)
    run = ("leaks", "run", LTOWN, "--store", url, "--train-from", TRAIN[0], "--train-to", TRAIN[1])
    dmas = ("--dmas", LTOWN.with_name("L-TOWN.dmas.toml"))
    code, out, err = _cli(capsys, *run, *dmas, "--to", mid.isoformat())
    assert code == 0, err
    assert "opened 1," in out
    code, out, err = _cli(capsys, "leaks", "events", "--store", url, "--status", "open", "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    eid = row["id"]
    assert row["status"] == "open" and row["dma"] == "A"
    code, out, _ = _cli(capsys, *run, *dmas, "--to", mid.isoformat())
    assert "opened none" in out and f"unchanged {eid}" in out

    # the real command line: an invalid move is one line on stderr and exit status 2
    bad = _tirta("leaks", "close", eid, "--who", "ana", "--store", url)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "'open'" in bad.stderr and "'closed'" in bad.stderr and len(bad.stderr.splitlines()) == 1
    for cmd, who, note in [("ack", "ana", "on it"), ("dispatch", "ana", "crew 3")]:
        code, _, err = _cli(
            capsys, "leaks", cmd, eid, "--who", who, "--note", note, "--at", mid, "--store", url
        )
        assert code == 0, err
    code, out, _ = _cli(
        capsys, "leaks", "repaired", eid, "--who", "crew 3", "--at", truth["end"], "--store", url
    )
    assert out.strip() == f"event {eid} is repaired"

    code, out, err = _cli(capsys, *run, "--to", END.isoformat())  # without --dmas: same zone still
    assert code == 0, err
    assert f"close proposed {eid}" in out and "opened none" in out and f"dealt with {eid}" in out
    code, out, _ = _cli(capsys, "leaks", "event", eid, "--json", "--store", url)
    detail = json.loads(out)
    assert detail["close_proposed"] and "back to baseline" in detail["close_proposed"]
    hours = (truth["end"] - pd.Timestamp(detail["start"])).total_seconds() / 3600
    assert detail["water_lost_m3"] == pytest.approx(detail["size_lps"] * 3.6 * hours, rel=1e-3)
    assert [h["status"] for h in detail["history"]] == [
        "open", "acknowledged", "dispatched", "repaired", "repaired",
    ]  # fmt: skip
    assert detail["history"][1]["who"] == "ana" and detail["history"][1]["note"] == "on it"
    code, text, _ = _cli(capsys, "leaks", "event", eid, "--store", url)
    assert "tirta proposes closing" in text and "candidates: " in text
    code, _, err = _cli(
        capsys, "leaks", "close", eid, "--who", "ana", "--note", "agreed", "--store", url
    )
    assert code == 0, err
    code, table, _ = _cli(capsys, "leaks", "events", "--store", url)
    assert "closed" in table and "close proposed" not in table


def test_a_relocalised_alarm_updates_its_event_and_a_later_leak_opens_another(net):
    """Same zone and change point, localised > 300 m away by a later run: the same leak (no duplicate
    event); a change point hours later in the same zone and far away: a second leak."""
    from tirta.leaks.detect.base import Alarm
    from tirta.leaks.evaluate import Detection
    from tirta.leaks.events import Event
    from tirta.leaks.live import _match
    from tirta.leaks.pipeline import Found, PipelineConfig

    dist = PipeDistances(net)
    start = pd.Timestamp("2021-01-09 15:50", tz="UTC")
    event = Event(
        id=1, status="open", detected_at=start + pd.Timedelta(minutes=30), start=start,
        size_lps=5.0, candidates=[{"pipe": "p779", "score": 1.0}], dma="A", zone="A", radius_m=0.0,
    )  # fmt: skip
    far = next(p for p in net.links.index if p in dist and dist.between("p779", p) > 1500)

    def found(at: pd.Timestamp) -> Found:
        alarm = Alarm("flow", at, at + pd.Timedelta(hours=1), 5.0, 0.9, zone="A")
        return Found(Detection(far, at), alarm, None)

    same, active = _match(found(start + pd.Timedelta(minutes=20)), "A", [event], dist, PipelineConfig())
    assert same is event and active
    other, _ = _match(found(start + pd.Timedelta(hours=9)), "A", [event], dist, PipelineConfig())
    assert other is None


def test_a_customer_event_never_takes_a_network_leak(net):
    """A customer alert (no DMA, no zone) with the same start as a network alarm stays its own event."""
    from tirta.leaks.detect.base import Alarm
    from tirta.leaks.evaluate import Detection
    from tirta.leaks.events import Event
    from tirta.leaks.live import _match
    from tirta.leaks.pipeline import Found, PipelineConfig

    start = pd.Timestamp("2021-01-09 15:50", tz="UTC")
    customer = Event(
        id=7, status="open", detected_at=start, start=start, size_lps=0.003, candidates=[],
        dma=None, kind="customer_leak", customer={"id": "c0001"},
    )  # fmt: skip
    alarm = Alarm("flow", start, start + pd.Timedelta(hours=1), 5.0, 0.9, zone=None)
    got, _ = _match(
        Found(Detection("p779", start), alarm, None),
        None,
        [customer],
        PipeDistances(net),
        PipelineConfig(),
    )
    assert got is None
