"""Job history and the nightly balance kept as records of the store (both backends): a new scheduler
or analytics on the same store (a restart, or another process) reads them back."""

from __future__ import annotations

import pytest

from tirta.server import Job, Scheduler
from tirta.server.jobs import BALANCE_RECORD, Analytics
from tirta.server.scheduler import HISTORY, JOB_KIND
from tirta.telemetry.store import Store, open_store


def _boom() -> None:
    raise RuntimeError("no data")


def test_job_runs_are_recorded_and_read_back_by_a_new_scheduler(store: Store) -> None:
    results = iter(range(100))
    first = Scheduler(
        [Job("count", lambda: {"n": next(results)}, every_s=60.0), Job("bad", _boom, every_s=60.0)],
        store=store,
    )
    for _ in range(3):
        first.run_job(first.jobs["count"])
    first.run_job(first.jobs["bad"])
    rec = store.get_record(JOB_KIND, "count")
    assert rec is not None and rec.value["runs"] == 3 and rec.value["last_result"] == {"n": 2}
    # a restart: fresh jobs with empty state, the same store
    again = Scheduler(
        [Job("count", lambda: None, every_s=60.0), Job("bad", _boom, every_s=60.0)], store=store
    )
    status = again.status()
    assert status["count"]["runs"] == 3 and status["count"]["failures"] == 0
    assert status["count"]["last_result"] == {"n": 2} and status["count"]["last_duration_s"] is not None
    assert [h["error"] for h in status["count"]["history"]] == [None, None, None]
    assert status["bad"]["runs"] == 1 and status["bad"]["failures"] == 1
    assert status["bad"]["last_error"] == "RuntimeError: no data" and status["bad"]["last_ok"] is None
    assert status["bad"]["history"][0]["error"] == "RuntimeError: no data"
    assert str(status["bad"]["last_start"].tz) == "UTC"
    for _ in range(HISTORY + 2):  # the history keeps the last runs only; counts go on
        again.run_job(again.jobs["bad"])
    bad = again.status()["bad"]
    assert (
        bad["runs"] == HISTORY + 3 and bad["failures"] == HISTORY + 3 and len(bad["history"]) == HISTORY
    )


def test_two_processes_runs_add_up(store: Store, store_url: str) -> None:
    if not store_url.startswith("postgres"):
        pytest.skip("an embedded DuckDB file has one process")
    with open_store(store_url) as other:
        here = Scheduler([Job("j", lambda: 1, every_s=60.0)], store=store)
        there = Scheduler([Job("j", lambda: 2, every_s=60.0)], store=other)
        for _ in range(3):
            here.run_job(here.jobs["j"])
            there.run_job(there.jobs["j"])
        assert here.status()["j"]["runs"] == 6 and there.status()["j"]["runs"] == 6


def test_the_nightly_balance_survives_in_the_store(store: Store) -> None:
    value = {"start": "2024-01-01T00:00:00+00:00", "dmas": {"A": {"ili": float("nan"), "nrw_m3": 12.5}}}
    Analytics(store=store).set_balance(value)
    assert store.get_record(*BALANCE_RECORD) is not None
    got = Analytics(store=store).balance()  # a new process
    assert got == {"start": "2024-01-01T00:00:00+00:00", "dmas": {"A": {"ili": None, "nrw_m3": 12.5}}}
    assert Analytics().balance() is None  # without a store: memory only
