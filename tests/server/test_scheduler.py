"""The serve process's scheduler: jobs run on time, a failing job is reported and the others go on."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import time as clock_time

import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.server import Job, Scheduler, parse_duration, runtime_settings


def _wait(cond, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_jobs_run_repeatedly_and_a_failing_job_is_reported_not_fatal():
    ran: list[float] = []

    def good() -> dict[str, int]:
        ran.append(time.monotonic())
        return {"n": len(ran)}

    def bad() -> None:
        raise RuntimeError("the store is on fire")

    sched = Scheduler([Job("good", good, every_s=0.1), Job("bad", bad, every_s=0.1)], tick_s=0.02)
    sched.start()
    try:
        _wait(lambda: len(ran) >= 5 and sched.jobs["bad"].state.runs >= 3)
    finally:
        sched.stop()
    status = sched.status()
    assert status["bad"]["failures"] == status["bad"]["runs"] >= 3
    assert status["bad"]["last_error"] == "RuntimeError: the store is on fire"
    assert status["bad"]["last_ok"] is None
    assert status["good"]["failures"] == 0 and status["good"]["last_error"] is None
    assert status["good"]["last_result"] == {"n": status["good"]["runs"]}
    assert status["good"]["last_duration_s"] is not None and status["good"]["running"] is False
    gaps = [b - a for a, b in itertools.pairwise(ran)]
    assert min(gaps) >= 0.09  # every 0.1 s, not back to back


def test_a_job_that_raises_base_exception_like_errors_keeps_the_loop_alive():
    calls = threading.Event()
    n = {"good": 0}

    def boom() -> None:
        raise KeyError("missing")

    def good() -> None:
        n["good"] += 1
        if n["good"] >= 3:
            calls.set()

    sched = Scheduler([Job("boom", boom, every_s=0.05), Job("good", good, every_s=0.05)], tick_s=0.01)
    sched.start()
    try:
        assert calls.wait(10)
    finally:
        sched.stop()
    assert sched.jobs["boom"].state.failures >= 1


def test_daily_job_runs_once_per_clock_day_at_its_time():
    now = [pd.Timestamp("2021-01-01 00:00", tz="UTC")]
    runs: list[pd.Timestamp] = []
    job = Job("night", lambda: runs.append(now[0]), daily_at=clock_time(2, 30), run_at_start=False)
    sched = Scheduler([job], clock=lambda: now[0], tick_s=0.01)
    sched.start()
    try:
        time.sleep(0.1)
        assert runs == []
        assert job.state.next_due == pd.Timestamp("2021-01-01 02:30", tz="UTC")
        now[0] = pd.Timestamp("2021-01-01 02:31", tz="UTC")
        _wait(lambda: len(runs) == 1)
        now[0] = pd.Timestamp("2021-01-01 23:00", tz="UTC")
        time.sleep(0.1)
        assert len(runs) == 1  # once a day
        now[0] = pd.Timestamp("2021-01-02 02:30", tz="UTC")
        _wait(lambda: len(runs) == 2)
    finally:
        sched.stop()
    assert job.state.next_due == pd.Timestamp("2021-01-03 02:30", tz="UTC")


def test_run_now_and_disabled_jobs():
    runs: list[int] = []
    off = Job("off", lambda: runs.append(0), every_s=0.01, disabled="no calibration window")
    on = Job("on", lambda: runs.append(1), every_s=3600, run_at_start=False)
    sched = Scheduler([off, on], tick_s=0.01)
    sched.start()
    try:
        time.sleep(0.1)
        assert runs == []
        sched.run_now("on")
        _wait(lambda: runs == [1])
    finally:
        sched.stop()
    assert sched.status()["off"]["disabled"] == "no calibration window"
    with pytest.raises(ValueError):
        Job("both", lambda: None, every_s=1, daily_at=clock_time(1, 0))


def test_settings_from_environment():
    cfg = runtime_settings(
        env={
            "TIRTA_DETECT_EVERY": "5min",
            "TIRTA_TRAIN_FROM": "2021-01-01",
            "TIRTA_TRAIN_TO": "2021-01-08",
            "TIRTA_NIGHTLY_AT": "03:15",
            "TIRTA_MQTT_URL": "mqtt://127.0.0.1:1883",
            "TIRTA_MQTT_TOPICS": "a/+/readings, b/#",
            "TIRTA_DETECT_WINDOW": "0",
        }
    )
    assert cfg.detect_every_s == 300 and cfg.detect_window_days == 0.0
    assert cfg.train == (pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-01-08", tz="UTC"))
    assert cfg.nightly_at == clock_time(3, 15) and cfg.mqtt_topics == ("a/+/readings", "b/#")
    assert runtime_settings(detect_every="30s", env={}).detect_every_s == 30
    assert parse_duration("2h", "x") == 7200 and parse_duration(45, "x") == 45
    for bad in ({"TIRTA_DETECT_EVERY": "soon"}, {"TIRTA_TRAIN_FROM": "2021-01-01"},
                {"TIRTA_NIGHTLY_AT": "25:00"}, {"TIRTA_DETECT_EVERY": "0"}):  # fmt: skip
        with pytest.raises(InputError):
            runtime_settings(env=bad)
