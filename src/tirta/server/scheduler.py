"""Periodic jobs of the serve process on one background thread; a failing job is logged, never fatal.

Jobs run one after the other (the analytics share the machine's cores with the API), each either every
N seconds of wall time or once a day at a time of the runtime's clock, which the demo's replay
accelerates. Every job keeps its last start, duration, result and error for ``GET /api/v1/status``;
given a store, each run is also written there as a ``job`` record with the last runs' history, so the
status survives a restart and is shared by every process on one PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any

import pandas as pd

from tirta.errors import TirtaError

if TYPE_CHECKING:
    from tirta.telemetry.store.base import Store

__all__ = ["HISTORY", "JOB_KIND", "Clock", "Job", "JobState", "Scheduler", "wall_clock"]

log = logging.getLogger("tirta.server")

JOB_KIND = "job"  # record kind of a job's persisted state (key: the job's name)
HISTORY = 20  # runs kept per job in its record, newest first
_STAMPS = ("last_start", "last_ok")

Clock = Callable[[], pd.Timestamp]


def wall_clock() -> pd.Timestamp:
    """Now, in UTC."""
    return pd.Timestamp.now(tz="UTC")


@dataclass
class JobState:
    """What a job did last: when, how long, what it returned or why it failed."""

    runs: int = 0
    failures: int = 0
    running: bool = False
    last_start: pd.Timestamp | None = None
    last_duration_s: float | None = None
    last_ok: pd.Timestamp | None = None
    last_result: Any = None
    last_error: str | None = None
    next_due: pd.Timestamp | None = None  # in the runtime's clock for daily jobs, wall time otherwise
    logged: str | None = None  # the last skip or expected error written to the log (said once)
    history: list[dict[str, Any]] = field(default_factory=list)  # last runs, newest first

    def load(self, value: dict[str, Any]) -> None:
        """Take the persisted fields of a ``job`` record (see :func:`record_run`)."""
        self.runs, self.failures = int(value.get("runs", 0)), int(value.get("failures", 0))
        for name in _STAMPS:
            at = value.get(name)
            setattr(self, name, pd.Timestamp(at) if at else None)
        self.last_duration_s = value.get("last_duration_s")
        self.last_result, self.last_error = value.get("last_result"), value.get("last_error")
        self.history = list(value.get("history", []))


def record_run(old: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """A job record after one more run (``start``, ``duration_s``, ``ok``, ``error``, ``result``):
    counts accumulate over every process, the history keeps the last :data:`HISTORY` runs."""
    ok = run["error"] is None
    return {
        "runs": int(old.get("runs", 0)) + 1,
        "failures": int(old.get("failures", 0)) + (not ok),
        "last_start": run["start"],
        "last_duration_s": run["duration_s"],
        "last_ok": run["end"] if ok else old.get("last_ok"),
        "last_error": run["error"],
        "last_result": run["result"] if ok else old.get("last_result"),
        "history": [{k: v for k, v in run.items() if k != "result"}, *old.get("history", [])][:HISTORY],
    }


@dataclass
class Job:
    """A named function run every ``every_s`` seconds (wall time) or daily at ``daily_at`` (clock time).

    ``disabled`` says why a job is not run at all (shown in the status, e.g. a missing setting).
    """

    name: str
    fn: Callable[[], Any]
    every_s: float | None = None
    daily_at: clock_time | None = None
    run_at_start: bool = True
    disabled: str | None = None
    state: JobState = field(default_factory=JobState)
    _last_mono: float | None = None
    _next_clock: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.daily_at is None):
            raise ValueError(f"job {self.name}: give exactly one of every_s and daily_at")

    def schedule(self, now: pd.Timestamp, mono: float) -> None:
        """Set the next run after one at ``now`` (clock) and ``mono`` (monotonic seconds)."""
        self._last_mono = mono
        if self.every_s is not None:
            self.state.next_due = wall_clock() + pd.Timedelta(seconds=self.every_s)
            return
        assert self.daily_at is not None
        at = now.normalize() + pd.Timedelta(hours=self.daily_at.hour, minutes=self.daily_at.minute)
        self._next_clock = at if at > now else at + pd.Timedelta(days=1)
        self.state.next_due = self._next_clock

    def due(self, now: pd.Timestamp, mono: float) -> bool:
        if self.disabled is not None:
            return False
        if self._last_mono is None:  # never scheduled yet
            if self.run_at_start:
                return True
            self.schedule(now, mono)
            return False
        if self.every_s is not None:
            return mono - self._last_mono >= self.every_s
        return self._next_clock is not None and now >= self._next_clock


class Scheduler:
    """Runs due jobs on one daemon thread until :meth:`stop`; ``clock`` gives daily jobs their time."""

    def __init__(
        self,
        jobs: list[Job],
        *,
        clock: Clock = wall_clock,
        tick_s: float = 0.25,
        store: Store | None = None,
    ) -> None:
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.jobs = {j.name: j for j in jobs}
        self.store = store
        for rec in self._records():
            if rec.key in self.jobs:
                self.jobs[rec.key].state.load(rec.value)
        self.clock = clock
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._asked: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tirta-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop after the running job (if any) ends; waits at most ``timeout_s``."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def run_now(self, name: str) -> None:
        """Ask for ``name`` to run at the next tick, whatever its schedule."""
        if name not in self.jobs:
            raise KeyError(name)
        with self._lock:
            self._asked.add(name)
        self._wake.set()

    def run_job(self, job: Job) -> None:
        """Run one job now, recording its outcome; exceptions are logged and kept, never raised."""
        st = job.state
        start = wall_clock()
        st.running, st.last_start = True, start
        began = time.monotonic()
        result: Any = None
        error: str | None = None
        try:
            result = st.last_result = job.fn()
            st.last_ok, st.last_error = wall_clock(), None
            skipped = st.last_result.get("skipped") if isinstance(st.last_result, dict) else None
            if skipped and st.logged != skipped:  # nothing to do: one line, until the reason changes
                log.info("job %s: nothing to do: %s", job.name, skipped)
            st.logged = skipped
        except TirtaError as exc:  # an expected failure (bad data, settings): one line, said once
            st.failures += 1
            error = st.last_error = f"{type(exc).__name__}: {exc}"
            if st.logged != st.last_error:
                log.warning("job %s failed: %s", job.name, exc)
            st.logged = st.last_error
        except Exception as exc:  # a job must never take the server down
            st.failures += 1
            error = st.last_error = f"{type(exc).__name__}: {exc}"
            st.logged = None
            log.exception("job %s failed", job.name)
        finally:
            st.runs += 1
            st.running = False
            duration = st.last_duration_s = round(time.monotonic() - began, 3)
            job.schedule(self.clock(), time.monotonic())
            run = {
                "start": start.isoformat(),
                "end": wall_clock().isoformat(),
                "duration_s": duration,
                "error": error,
                "result": result,
            }
            self._persist(job, run)

    def _records(self) -> list[Any]:
        """The ``job`` records of the store (none without a store, or when it cannot be read)."""
        if self.store is None:
            return []
        try:
            return self.store.records(JOB_KIND)
        except Exception:  # the status must answer even when the store does not
            log.exception("scheduler: cannot read the job records")
            return []

    def _persist(self, job: Job, run: dict[str, Any]) -> None:
        """Add the run just ended to the job's record (compare-and-set: processes never lose runs)."""
        if self.store is None:
            return
        try:
            for _ in range(20):
                rec = self.store.get_record(JOB_KIND, job.name)
                if rec is None:
                    if self.store.put_record(JOB_KIND, job.name, record_run({}, run), only_if_new=True):
                        break
                    continue
                if self.store.swap_record(JOB_KIND, job.name, rec.value, record_run(rec.value, run)):
                    break
            else:
                log.warning("job %s: its record kept changing; this run is not recorded", job.name)
        except Exception:  # a store that cannot record must not stop the jobs
            log.exception("job %s: cannot record its run", job.name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                asked, self._asked = self._asked, set()
            for job in self.jobs.values():
                if self._stop.is_set():
                    return
                try:
                    now = self.clock()
                    if job.name in asked or job.due(now, time.monotonic()):
                        self.run_job(job)
                except Exception:  # a broken clock or schedule: log it and keep the loop alive
                    log.exception("scheduler: cannot check job %s", job.name)
            self._wake.wait(self.tick_s)
            self._wake.clear()

    def status(self) -> dict[str, dict[str, Any]]:
        """Each job's schedule and last outcome, JSON-ready."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self._records():  # every process's runs, as the store has them
            if rec.key in self.jobs:
                self.jobs[rec.key].state.load(rec.value)
        for job in self.jobs.values():
            st = job.state
            out[job.name] = {
                "schedule": f"every {job.every_s:g} s"
                if job.every_s is not None
                else f"daily at {job.daily_at:%H:%M} (clock time)",
                "disabled": job.disabled,
                "running": st.running,
                "runs": st.runs,
                "failures": st.failures,
                "last_start": st.last_start,
                "last_duration_s": st.last_duration_s,
                "last_ok": st.last_ok,
                "last_error": st.last_error,
                "last_result": st.last_result,
                "next_due": st.next_due,
                "history": st.history,
            }
        return out
