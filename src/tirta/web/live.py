"""What open dashboard pages are pushed: snapshots of the store and the runtime, diffed every tick.

One :class:`LiveHub` per app looks at the store (reading count and latest time, the events) and the
runtime's jobs every ``tick_s`` seconds while a page listens, and keeps the messages ``reading``,
``event`` and ``job`` for the server-sent-event streams. Comparing snapshots (not hooking the
writers) also sees what another process (a second server, ``tirta ingest``) commits to the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pandas as pd

from tirta.api.services import jsonable
from tirta.telemetry.store.base import Store

__all__ = ["LiveHub", "Message", "Snapshot", "changes", "kind_latest", "snapshot"]

log = logging.getLogger("tirta.web")

#: readings newer than this before the latest one count towards each kind's latest time
KIND_WINDOW = pd.Timedelta(hours=1)
KINDS_EVERY_S = 2.0  # the per-kind read runs at most this often, however fast readings arrive


@dataclass(frozen=True)
class Message:
    """One server-sent event: its sequence number, name (``reading``, ``event``, ``job``) and data."""

    seq: int
    name: str
    data: dict[str, Any]


@dataclass
class Snapshot:
    """What the pages show that can change: reading count and latest time, events, jobs."""

    readings: int
    latest: pd.Timestamp | None
    events: dict[int, dict[str, Any]]
    jobs: dict[str, dict[str, Any]]
    at_mono: float = field(default_factory=time.monotonic)


def _jobs(runtime: Any) -> dict[str, dict[str, Any]]:
    scheduler = getattr(runtime, "scheduler", None)
    return scheduler.status() if scheduler is not None else {}


def snapshot(store: Store, runtime: Any = None) -> Snapshot:
    """The store's reading count and latest reading time, its events by id, and the runtime's jobs."""
    span = store.span()
    frame = store.events()
    events = {
        int(r["id"]): {k: r.get(k) for k in ("id", "status", "dma", "size_lps", "detected_at")}
        for r in frame.to_dict("records")
    }
    return Snapshot(store.counts()["readings"], span[1] if span else None, events, _jobs(runtime))


def kind_latest(store: Store, latest: pd.Timestamp | None) -> dict[str, dict[str, Any]]:
    """Per sensor kind: the latest reading time and how many sensors reported within the hour before
    the store's latest reading."""
    registry = store.sensors()
    ids = list(registry.sensors)
    if latest is None or not ids:
        return {}
    frame = store.read(ids, latest - KIND_WINDOW, latest + pd.Timedelta(seconds=1))
    out: dict[str, dict[str, Any]] = {}
    for sid, sensor in registry.sensors.items():
        col = frame[sid].dropna() if sid in frame else None
        if col is None or col.empty:
            continue
        kind = out.setdefault(sensor.kind, {"latest": col.index[-1], "sensors": 0})
        kind["latest"] = max(kind["latest"], col.index[-1])
        kind["sensors"] += 1
    return out


def _job_key(job: dict[str, Any]) -> tuple[Any, ...]:
    return (job.get("runs"), job.get("running"), job.get("last_error"), job.get("disabled"))


def changes(prev: Snapshot | None, cur: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    """The messages that take a page from ``prev`` to ``cur`` (everything when ``prev`` is None):
    ``reading`` when the count or latest time moved, ``event`` per opened or changed event, ``job``
    per job that started, ended or changed its error."""
    out: list[tuple[str, dict[str, Any]]] = []
    if prev is None or (prev.readings, prev.latest) != (cur.readings, cur.latest):
        out.append(("reading", {"readings": cur.readings, "latest": cur.latest}))
    for eid, event in cur.events.items():
        before = None if prev is None else prev.events.get(eid)
        if before != event:
            out.append(("event", {**event, "change": "opened" if before is None else "changed"}))
    for name, job in cur.jobs.items():
        before = None if prev is None else prev.jobs.get(name)
        if before is None or _job_key(before) != _job_key(job):
            out.append(("job", {"name": name, **job}))
    return out


class LiveHub:
    """Snapshots the store every ``tick_s`` seconds on a daemon thread while someone listens (it stops
    after ``idle_s`` seconds without listeners) and keeps the last messages and the ingestion history."""

    def __init__(
        self, store: Store, runtime: Any = None, *, tick_s: float = 0.5, idle_s: float = 30.0
    ) -> None:
        self.store, self.runtime = store, runtime
        self.tick_s, self.idle_s = tick_s, idle_s
        self.messages: deque[Message] = deque(maxlen=1000)
        self.seq = 0
        self.current: Snapshot | None = None
        self.kinds: dict[str, dict[str, Any]] = {}
        self.history: deque[tuple[float, pd.Timestamp, int]] = deque(maxlen=2000)
        self.last_commit: pd.Timestamp | None = None  # wall time the reading count last grew
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._seen = time.monotonic()
        self._kinds_at = -KINDS_EVERY_S
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- listeners --------------------------------------------------------------------------------
    def touch(self) -> None:
        """A listener is there: keep (or start) the snapshot thread."""
        with self._lock:
            self._seen = time.monotonic()
            if not self._stop.is_set() and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="tirta-live", daemon=True)
                self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the snapshot thread (before the store closes) and start no other."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def since(self, seq: int) -> list[Message]:
        """Messages after ``seq``, oldest first."""
        with self._lock:
            return [m for m in self.messages if m.seq > seq]

    # --- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while time.monotonic() - self._seen < self.idle_s and not self._stop.is_set():
            began = time.monotonic()
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # a busy or restarting store: report it, try again next tick
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("live: %s", self.last_error)
            self._stop.wait(max(0.0, self.tick_s - (time.monotonic() - began)))

    def tick(self) -> list[Message]:
        """Take a snapshot now, record the ingestion history and publish what changed."""
        cur = snapshot(self.store, self.runtime)
        prev = self.current
        now = pd.Timestamp.now(tz="UTC")
        if prev is None or cur.readings > prev.readings:
            if prev is not None:
                self.last_commit = now
            moved = cur.latest is not None and (prev is None or cur.latest != prev.latest)
            if moved and cur.at_mono - self._kinds_at >= KINDS_EVERY_S:
                self.kinds = kind_latest(self.store, cur.latest)
                self._kinds_at = cur.at_mono
        self.history.append((cur.at_mono, now, cur.readings))
        found = changes(prev, cur)
        with self._lock:
            self.current = cur
            out = []
            for name, data in found:
                if name == "reading":
                    data = {**data, "kinds": self.kinds, **self.ingestion()}
                self.seq += 1
                out.append(Message(self.seq, name, jsonable(data)))
            self.messages.extend(out)
        return out

    def ingestion(self, minutes: float = 5.0) -> dict[str, Any]:
        """Readings committed per minute over the last ``minutes`` watched (from the counts seen; over
        a minute at least), per minute, and the seconds since the count last grew while watched."""
        now_mono = time.monotonic()
        recent = [h for h in self.history if now_mono - h[0] <= minutes * 60]
        rate, window = None, minutes
        if len(recent) >= 2:  # over the time watched, at least a minute (no extrapolation)
            window = min(minutes, max(1.0, (recent[-1][0] - recent[0][0]) / 60.0))
            rate = round(max(0, recent[-1][2] - recent[0][2]) / window, 1)
        lag = None
        if self.last_commit is not None:
            lag = round((pd.Timestamp.now(tz="UTC") - self.last_commit).total_seconds(), 1)
        per_minute = [0] * int(minutes)
        for (_, _, n0), (m1, _, n1) in pairwise(recent):
            ago = int((now_mono - m1) // 60)
            if ago < len(per_minute):
                per_minute[ago] += max(0, n1 - n0)
        return {
            "rate_per_min": rate,
            "per_minute": per_minute[::-1],  # oldest minute first, the current one last
            "window_min": round(window, 1),
            "since_commit_s": lag,
            "last_commit": self.last_commit,
        }
