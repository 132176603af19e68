"""Jobs with nothing to do say so once in one line (issue 19 part 5): live detection with no readings in
its 14-day wall-clock window used to write a traceback to the log every run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.network import load_dmas, load_network
from tirta.network.model import builtin_network_path
from tirta.server.jobs import DetectJob
from tirta.server.scheduler import Job, Scheduler
from tirta.telemetry.ingest.files import ingest_file
from tirta.telemetry.store import open_store

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry" / "l-town-slice"
TRAIN = (pd.Timestamp("2020-12-18T00:00Z"), pd.Timestamp("2020-12-18T06:00Z"))


@pytest.fixture(scope="module")
def ltown():
    inp = builtin_network_path("l-town")
    net = load_network(inp)
    return net, load_dmas(inp.with_name("L-TOWN.dmas.toml"), net)


def _runs(job: Job, times: int, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    sched = Scheduler([job])
    with caplog.at_level(logging.INFO, logger="tirta.server"):
        for _ in range(times):
            sched.run_job(job)
    return [r for r in caplog.records if r.name == "tirta.server"]


def test_detection_without_readings_in_its_window_logs_one_line(tmp_path, ltown, caplog):
    net, dmas = ltown
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as store:
        ingest_file(store, SLICE, sensors_file=builtin_network_path("l-town").with_name("sensors.json"))
        wall = pd.Timestamp("2026-12-07T12:00Z")  # the readings end 2020-12-18: the window is empty
        detect = DetectJob(store, net, dmas, TRAIN, clock=lambda: wall)
        job = Job("detect", detect, every_s=60)
        records = _runs(job, 4, caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].exc_info is None and records[0].levelno == logging.INFO
    assert records[0].getMessage() == (
        "job detect: nothing to do: no readings since the last 14 days "
        "(the watched window ends at the wall clock)"
    )
    assert job.state.failures == 0 and job.state.runs == 4
    assert job.state.last_result["skipped"].startswith("no readings since the last 14 days")


def test_detection_without_calibration_readings_says_so(tmp_path, ltown, caplog):
    net, dmas = ltown
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as store:
        ingest_file(store, SLICE, sensors_file=builtin_network_path("l-town").with_name("sensors.json"))
        train = (pd.Timestamp("2020-06-01T00:00Z"), pd.Timestamp("2020-06-02T00:00Z"))
        detect = DetectJob(store, net, dmas, train, clock=lambda: pd.Timestamp("2020-12-18T12:00Z"))
        records = _runs(Job("detect", detect, every_s=60), 3, caplog)
    assert len(records) == 1
    assert "no readings in the calibration window" in records[0].getMessage()


def test_an_expected_error_is_one_line_once_and_a_bug_keeps_its_traceback(caplog):
    def bad_settings() -> None:
        raise InputError("no pressure, flow, level or AMR sensors registered")

    records = _runs(Job("detect", bad_settings, every_s=60), 3, caplog)
    assert len(records) == 1 and records[0].exc_info is None
    assert records[0].getMessage() == (
        "job detect failed: no pressure, flow, level or AMR sensors registered"
    )
    caplog.clear()

    def bug() -> None:
        raise ZeroDivisionError("a bug")

    records = _runs(Job("bug", bug, every_s=60), 2, caplog)
    assert len(records) == 2 and all(r.exc_info is not None for r in records)
    assert sys.exc_info() == (None, None, None)
