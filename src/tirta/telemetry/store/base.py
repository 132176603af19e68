"""The one store interface: readings idempotent on (sensor, time), quarantine, sensors and leak events.

Both implementations share this class: the single writer thread that groups small writes into one
commit, the wide-frame shaping of reads, and the checks on arguments. Backends supply the SQL.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa

from tirta.errors import InputError, StoreError
from tirta.network.sensors import Sensor, SensorRegistry
from tirta.telemetry.quality import FLAG_COLUMNS, FLAG_KINDS, empty_flags
from tirta.telemetry.schema import QUARANTINE_COLUMNS, IngestResult, Progress, WriteCounts, utc_time
from tirta.telemetry.store.records import Record, encode
from tirta.telemetry.validate import sensor_table, validate

__all__ = ["AGGREGATES", "EVENT_STATUSES", "EVERY", "ROLLUP_COLUMNS", "Batch", "Store", "parse_every"]

# resampling widths in seconds and aggregates a read may ask for (user input maps onto these only)
EVERY: dict[str, int] = {"5min": 300, "1h": 3600, "1d": 86400}
AGGREGATES: dict[str, str] = {"mean": "avg", "min": "min", "max": "max", "count": "count"}
# column of the rollups table answering each aggregate
ROLLUP_COLUMNS: dict[str, str] = {"mean": "mean", "min": "min", "max": "max", "count": "count"}
EVENT_STATUSES = ("open", "acknowledged", "dispatched", "repaired", "closed", "false_alarm")
SENSOR_COLUMNS = (
    "id",
    "kind",
    "unit",
    "node",
    "link",
    "valid_min",
    "valid_max",
    "dma",
    "installed",
    "cumulative",
)


_EVERY_ALIASES = {
    "5m": 300,
    "300s": 300,
    "h": 3600,
    "hour": 3600,
    "60min": 3600,
    "d": 86400,
    "day": 86400,
}


def parse_every(every: str | int | None) -> int | None:
    """Resampling width in seconds from ``5min``, ``1h``, ``1d`` (or 300, 3600, 86400); None for raw."""
    if every is None or every == "" or every == "raw":
        return None
    if isinstance(every, int) and every in EVERY.values():
        return every
    text = str(every).strip().lower()
    seconds = EVERY.get(text, _EVERY_ALIASES.get(text))
    if seconds is None:
        raise InputError(
            f"cannot resample every '{every}'; expected one of {list(EVERY)}", field="every"
        )
    return seconds


@dataclass
class Batch:
    """Valid readings (sensor, time UTC, value SI) and quarantine rows to commit together."""

    readings: pd.DataFrame
    quarantine: pd.DataFrame | None
    source: str
    future: Future[WriteCounts] = field(default_factory=Future)

    @property
    def rows(self) -> int:
        return len(self.readings) + (0 if self.quarantine is None else len(self.quarantine))


class Store(ABC):
    """Telemetry store; use as a context manager or call :meth:`close`, which commits pending writes."""

    #: batches with at least this many rows are written at once in their own transaction
    bulk_rows = 10_000
    #: other processes may register sensors (a database server): a batch naming unknown sensors then
    #: reads the registry again, at most this often (seconds); None: only this process writes it
    registry_recheck_s: float | None = None

    def __init__(self, url: str) -> None:
        self.url = url
        self._write_lock = threading.RLock()
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._registry: SensorRegistry | None = None
        self._registry_at = 0.0  # monotonic time the registry was read
        self._table: pd.DataFrame | None = None
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The URL without a password, for messages."""
        return self.url

    # --- writing readings -------------------------------------------------------------------------
    def ingest(
        self,
        raw: pd.DataFrame | pa.Table,
        *,
        source: str,
        now: pd.Timestamp | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Validate raw records (sensor, time, value, unit as received) and commit them with the
        quarantine rows; see :func:`tirta.telemetry.ingest.ingest_records`."""
        checked = validate(raw, self.sensor_table(), source=source, now=now)
        if self._registry_stale(checked.reasons()):
            checked = validate(raw, self.sensor_table(), source=source, now=now)
        if progress is not None:
            progress(0, len(checked.readings) + len(checked.quarantine))
        counts = self.write(
            checked.readings, source=source, quarantine=checked.quarantine, progress=progress
        )
        return IngestResult(
            accepted=counts.inserted + counts.corrected,
            duplicate=counts.duplicate + checked.duplicates,
            quarantined=len(checked.quarantine),
            corrected=counts.corrected,
            reasons=checked.reasons(),
        )

    def write(
        self,
        readings: pd.DataFrame,
        *,
        source: str,
        quarantine: pd.DataFrame | None = None,
        progress: Progress | None = None,
    ) -> WriteCounts:
        """Commit valid readings and quarantine rows; return what was new, resent or corrected.

        Bulk batches (``bulk_rows`` or more, or with ``progress``) run in one transaction of their own;
        small ones go through the writer thread, which commits all waiting batches together.
        """
        batch = Batch(_readings(readings), _quarantine(quarantine), source)
        if batch.rows >= self.bulk_rows or progress is not None:
            self._check_open()
            with self._write_lock:
                return self._write_batches([batch], progress)[0]
        return self.submit(batch).result()

    def submit(self, batch: Batch) -> Future[WriteCounts]:
        """Queue a batch for the writer thread; the future resolves once it is committed."""
        self._check_open()
        if self._writer is None:
            with self._write_lock:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._writer_loop, name=f"tirta-writer-{id(self):x}", daemon=True
                    )
                    self._writer.start()
        self._queue.put(batch)
        return batch.future

    def _writer_loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            group, rows = [first], first.rows
            while rows < self.bulk_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
                rows += nxt.rows
            self._commit_group(group)

    def _commit_group(self, group: list[Batch]) -> None:
        with self._write_lock:
            try:
                results = self._write_batches(group, None)
            except BaseException as exc:
                if len(group) == 1:
                    group[0].future.set_exception(exc)
                    return
                for one in group:  # one bad batch must not fail the others
                    self._commit_group([one])
                return
        for one, counts in zip(group, results, strict=True):
            one.future.set_result(counts)

    def flush(self) -> None:
        """Wait until every queued batch is committed."""
        if self._writer is not None and self._writer.is_alive():
            done: Future[WriteCounts] = Future()
            self._queue.put(Batch(_readings(None), None, "flush", done))
            done.result()

    def close(self) -> None:
        """Commit queued writes, stop the writer thread and release the connection (or file lock)."""
        if self._closed:
            return
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
        self._closed = True
        self._close()

    def set_threads(self, threads: int) -> int | None:
        """Set how many threads the embedded engine of this store runs queries on; return the number
        before, or None when the store has no such setting (a server does its own scheduling)."""
        return None

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.display_url} is closed")

    @abstractmethod
    def _write_batches(self, batches: Sequence[Batch], progress: Progress | None) -> list[WriteCounts]:
        """Write all batches in one transaction, in order; roll back entirely on any error."""

    @abstractmethod
    def _close(self) -> None: ...

    # --- reading ----------------------------------------------------------------------------------
    def read(
        self,
        sensors: Sequence[str],
        start: pd.Timestamp | str,
        end: pd.Timestamp | str,
        *,
        every: str | int | None = None,
        agg: str = "mean",
        clean: bool = False,
    ) -> pd.DataFrame:
        """Wide frame of SI values for ``start <= time < end`` (UTC index, one column per sensor).

        With ``every`` (5min, 1h, 1d) values are aggregated (mean, min or max) into buckets labelled by
        their start, aligned on midnight UTC. With ``clean`` readings inside a stored quality flag
        (:meth:`flags`) are NaN and left out of aggregates.
        """
        seconds = parse_every(every)
        if agg not in AGGREGATES:
            raise InputError(
                f"unknown aggregate '{agg}'; expected one of {list(AGGREGATES)}", field="agg"
            )
        t0, t1 = utc_time(start, "from"), utc_time(end, "to")
        ids = list(dict.fromkeys(str(s) for s in sensors))
        self.flush()
        long = self._read_parts(ids, t0, t1, seconds, agg, clean) if ids else None
        if long is None or long.empty:
            index = pd.DatetimeIndex([], tz="UTC", name="time")
            return pd.DataFrame(index=index, columns=pd.Index(ids), dtype=float)
        return _wide(long, ids)

    def _read_parts(
        self,
        ids: list[str],
        t0: pd.Timestamp,
        t1: pd.Timestamp,
        seconds: int | None,
        agg: str,
        clean: bool,
    ) -> pd.DataFrame:
        """Aggregates come from the rollups before the retention cut (raw rows are gone there) and
        from raw readings after it; buckets never straddle the cut, which falls on midnight UTC."""
        cut = self.pruned_before()
        if seconds is None or cut is None or t0 >= cut:
            return self._read_long(ids, t0, t1, seconds, AGGREGATES[agg], clean=clean)
        old = self._read_rollup(ids, t0, min(t1, cut), seconds, ROLLUP_COLUMNS[agg])
        if t1 <= cut:
            return old
        new = self._read_long(ids, cut, t1, seconds, AGGREGATES[agg], clean=clean)
        return pd.concat([old, new], ignore_index=True)

    # --- retention and rollups -----------------------------------------------------------------------
    def rollup(
        self, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
    ) -> int:
        """Recompute the 5-minute, hourly and daily rollups (mean, min, max, count per sensor) of the
        whole UTC days touched by ``start``..``end`` (default: all raw readings); idempotent. Days
        before the retention cut are left alone: their raw readings are gone. Return rows written."""
        self.flush()
        self._check_open()
        with self._write_lock:
            lo, hi = self._raw_span()
            if lo is None or hi is None:
                return 0
            t0 = lo if start is None else max(utc_time(start, "from"), lo)
            t1 = hi if end is None else min(utc_time(end, "to"), hi)
            cut = self.pruned_before()
            t0 = t0.floor("1D") if cut is None else max(t0.floor("1D"), cut)
            t1 = (t1 + pd.Timedelta(microseconds=1)).ceil("1D")
            if t0 >= t1:
                return 0
            return self._rollup(t0, t1)

    def prune(self, keep_days: float, now: pd.Timestamp | str | None = None) -> int:
        """Delete raw readings older than ``keep_days`` before ``now`` (rounded down to midnight UTC),
        after rolling them up; rollups are kept for ever. Return how many readings were deleted.

        Readings that arrive later for a day before the cut are not added to its rollups (they are
        deleted by the next prune).
        """
        if not keep_days >= 0:
            raise InputError("must not be negative", field="keep_days")
        when = pd.Timestamp.now(tz="UTC") if now is None else utc_time(now, "now")
        cut = (when - pd.Timedelta(days=keep_days)).floor("1D")
        before = self.pruned_before()
        if before is not None and cut <= before:
            return 0
        self.rollup(None, cut - pd.Timedelta(microseconds=1))
        with self._write_lock:
            return self._prune(cut)

    @abstractmethod
    def pruned_before(self) -> pd.Timestamp | None:
        """The retention cut: raw readings before it were pruned (None when never pruned)."""

    def span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last time of the stored raw readings (UTC); None when there are none."""
        lo, hi = self._raw_span()
        return None if lo is None or hi is None else (lo, hi)

    def data_now(self) -> pd.Timestamp:
        """The telemetry's "now": the latest reading, else the wall clock. Live the two
        agree; with replayed or late data, water lost is counted to the data's end, not beyond."""
        span = self.span()
        return span[1] if span else pd.Timestamp.now(tz="UTC")

    @abstractmethod
    def _raw_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First and last time of the raw readings (UTC)."""

    @abstractmethod
    def _rollup(self, start: pd.Timestamp, end: pd.Timestamp) -> int:
        """Replace rollups of every width for buckets in [start, end) by aggregates of raw readings."""

    @abstractmethod
    def _prune(self, cut: pd.Timestamp) -> int:
        """Delete readings before ``cut`` and record the cut, in one transaction."""

    @abstractmethod
    def _read_rollup(
        self, sensors: list[str], start: pd.Timestamp, end: pd.Timestamp, width_s: int, column: str
    ) -> pd.DataFrame:
        """Like :meth:`_read_long` from the rollups: buckets starting in [start, end)."""

    @abstractmethod
    def _read_long(
        self,
        sensors: list[str],
        start: pd.Timestamp,
        end: pd.Timestamp,
        every_s: int | None,
        agg: str,
        *,
        clean: bool = False,
    ) -> pd.DataFrame:
        """Long frame of raw or bucketed readings: ``k`` (position of the sensor in ``sensors``), ``t``
        (UTC time as integer microseconds since the epoch) and ``value`` (NaN when flagged and
        ``clean``), in any order."""

    # --- quality flags ------------------------------------------------------------------------------
    def add_flags(self, flags: pd.DataFrame) -> int:
        """Store quality flags (sensor, start, end, kind, detail; see :mod:`tirta.telemetry.quality`);
        a flag with the same sensor, kind and start replaces the stored one. Return how many."""
        frame = _flags(flags)
        if frame.empty:
            return 0
        self._check_open()
        with self._write_lock:
            self._add_flags(frame)
        return len(frame)

    def flags(
        self,
        sensors: Sequence[str] | None = None,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """Stored flags overlapping ``start <= time < end`` (all when None), by sensor and start."""
        t0 = None if start is None else utc_time(start, "from")
        t1 = None if end is None else utc_time(end, "to")
        ids = None if sensors is None else list(dict.fromkeys(str(s) for s in sensors))
        self._check_open()
        frame = self._flags(ids, t0, t1)
        return _flags(frame)

    @abstractmethod
    def _add_flags(self, frame: pd.DataFrame) -> None: ...

    @abstractmethod
    def _flags(
        self, sensors: list[str] | None, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame: ...

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Rows per table: readings, corrections, quarantine, sensors, events."""

    @abstractmethod
    def corrections(self, sensor: str | None = None) -> pd.DataFrame:
        """Replaced values: sensor, time, value (the old one, SI), replaced_at, replaced_by (source)."""

    @abstractmethod
    def quarantined(
        self, *, source: str | None = None, limit: int | None = None, offset: int = 0
    ) -> pd.DataFrame:
        """Quarantine rows, newest first (ties by source, sensor, payload, reason, descending: a stable
        order to page through with ``offset``): received_at, last_seen, times_seen, source, sensor,
        payload, reason, detail."""

    def quarantine_entries(
        self,
        *,
        reason: str | None = None,
        sensor: str | None = None,
        source: str | None = None,
        keys: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Quarantine rows with their ``key`` (the handle to release or drop them), filtered."""
        self.flush()
        frame = self._quarantine_entries()
        if reason is not None:
            frame = frame[frame["reason"] == reason]
        if sensor is not None:
            frame = frame[frame["sensor"] == sensor]
        if source is not None:
            frame = frame[frame["source"] == source]
        if keys is not None:
            frame = frame[frame["key"].isin(list(keys))]
        return frame.reset_index(drop=True)

    def drop_quarantine(self, keys: Sequence[str]) -> int:
        """Delete quarantine rows by key; returns how many went."""
        if not keys:
            return 0
        self._check_open()
        with self._write_lock:
            return self._drop_quarantine(list(keys))

    @abstractmethod
    def _quarantine_entries(self) -> pd.DataFrame: ...

    @abstractmethod
    def _drop_quarantine(self, keys: list[str]) -> int: ...

    # --- sensors ------------------------------------------------------------------------------------
    def sensors(self, *, refresh: bool = False) -> SensorRegistry:
        """The registered sensors (cached until sensors are added or ``refresh``)."""
        self._check_open()
        if self._registry is None or refresh:
            self._registry = self._load_sensors()
            self._registry_at = time.monotonic()
            self._table = None
        return self._registry

    def _registry_stale(self, reasons: dict[str, int]) -> bool:
        """After a check that found unknown sensors: whether another process may have registered them
        since the registry was read (see :attr:`registry_recheck_s`); if so it is read again, and the
        caller checks the batch once more."""
        if self.registry_recheck_s is None or not reasons.get("unknown sensor"):
            return False
        if time.monotonic() - self._registry_at < self.registry_recheck_s:
            return False
        known = len(self.sensors())
        return len(self.sensors(refresh=True)) != known

    def sensor_table(self) -> pd.DataFrame:
        """The registry in the shape :func:`tirta.telemetry.validate.validate` checks against (cached)."""
        if self._table is None or self._registry is None:
            self._table = sensor_table(self.sensors())
        return self._table

    def add_sensors(self, sensors: Iterable[Sensor], *, replace: bool = False) -> int:
        """Register sensors that are not known yet (all of them with ``replace``); return how many."""
        self._check_open()
        frame = sensors_frame(sensors)
        if frame.empty:
            return 0
        if frame["id"].duplicated().any():
            dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
            raise InputError(f"duplicate sensor id '{dup}'", field="id")
        with self._write_lock:
            n = self._add_sensors(frame, replace)
        self._registry = None
        self._table = None
        return n

    @abstractmethod
    def _add_sensors(self, frame: pd.DataFrame, replace: bool) -> int: ...

    @abstractmethod
    def _load_sensors(self) -> SensorRegistry: ...

    # --- leak events --------------------------------------------------------------------------------
    def add_event(
        self,
        *,
        detected_at: pd.Timestamp | str,
        start: pd.Timestamp | str | None = None,
        size_lps: float | None = None,
        candidates: Sequence[dict[str, Any]] | None = None,
        dma: str | None = None,
        status: str = "open",
        who: str = "tirta",
        note: str | None = None,
    ) -> int:
        """Record a leak event (size in L/s, ranked candidate pipes as JSON) and its first history row."""
        _check_status(status)
        row = {
            "status": status,
            "detected_at": utc_time(detected_at, "detected_at"),
            "start": None if start is None else utc_time(start, "start"),
            "size_lps": None if size_lps is None else float(size_lps),
            "candidates": json.dumps(list(candidates or [])),
            "dma": dma,
        }
        self._check_open()
        with self._write_lock:
            return self._add_event(row, who, note)

    def set_event_status(
        self,
        event_id: int,
        status: str | None,
        *,
        who: str,
        note: str | None = None,
        at: Any = None,
        expected: str | None = None,
    ) -> None:
        """Move an event to ``status`` and append who did it, when and why to its history.

        ``status=None`` keeps whatever status the event has when the row is written (a note or new
        estimates must never put back a status someone changed meanwhile).

        With ``expected``, the move happens only if the event still has that status (compare and set,
        in the same transaction): two operators acting at once cannot both move it; the loser gets
        an :class:`InputError` naming the status it found."""
        if status is not None:
            _check_status(status)
        when = pd.Timestamp.now(tz="UTC") if at is None else utc_time(at, "at")
        self._check_open()
        with self._write_lock:
            self._set_event_status(int(event_id), status, who, note, when, expected)

    def events(self, status: str | None = None) -> pd.DataFrame:
        """Events (id, status, detected_at, start, size_lps, candidates list, dma), newest first."""
        if status is not None:
            _check_status(status)
        frame = self._events(status)
        frame["candidates"] = [json.loads(c) if c else [] for c in frame["candidates"]]
        return frame

    @abstractmethod
    def event_history(self, event_id: int) -> pd.DataFrame:
        """History of one event in time order: event_id, at, who, status, note."""

    @abstractmethod
    def _add_event(self, row: dict[str, Any], who: str, note: str | None) -> int: ...

    @abstractmethod
    def _set_event_status(
        self,
        event_id: int,
        status: str | None,
        who: str,
        note: str | None,
        at: pd.Timestamp,
        expected: str | None,
    ) -> None: ...

    @abstractmethod
    def _events(self, status: str | None) -> pd.DataFrame: ...

    # --- records: small JSON state shared by server processes (alerts, jobs) ---------------------------
    def put_record(
        self, kind: str, key: str, value: Mapping[str, Any], *, only_if_new: bool = False
    ) -> bool:
        """Write ``(kind, key) → value``; with ``only_if_new`` only when absent (an atomic claim).
        Returns whether this call wrote it."""
        self._check_open()
        with self._write_lock:
            return self._put_record(kind, key, encode(value), pd.Timestamp.now(tz="UTC"), only_if_new)

    def get_record(self, kind: str, key: str) -> Record | None:
        """The record of ``(kind, key)``, or None."""
        found = self._records(kind, key)
        return found[0] if found else None

    def records(self, kind: str) -> list[Record]:
        """Every record of a kind, most recently written first."""
        return self._records(kind, None)

    def delete_record(self, kind: str, key: str) -> bool:
        """Remove a record; returns whether it existed."""
        self._check_open()
        with self._write_lock:
            return self._delete_record(kind, key)

    def swap_record(
        self, kind: str, key: str, expected: Mapping[str, Any], value: Mapping[str, Any]
    ) -> bool:
        """Replace ``(kind, key)``'s value by ``value`` only while it still equals ``expected``
        (compare-and-set); False when it is absent or someone changed it meanwhile."""
        self._check_open()
        with self._write_lock:
            return self._swap_record(
                kind, key, encode(expected), encode(value), pd.Timestamp.now(tz="UTC")
            )

    @abstractmethod
    def _put_record(
        self, kind: str, key: str, value: str, at: pd.Timestamp, only_if_new: bool
    ) -> bool: ...

    @abstractmethod
    def _records(self, kind: str, key: str | None) -> list[Record]: ...

    @abstractmethod
    def _delete_record(self, kind: str, key: str) -> bool: ...

    @abstractmethod
    def _swap_record(self, kind: str, key: str, old: str, new: str, at: pd.Timestamp) -> bool: ...


def _changed_meanwhile(event_id: int, expected: str, found: str) -> InputError:
    """The error of a lost compare-and-set on an event's status."""
    return InputError(
        f"event {event_id} is now '{found}', not '{expected}': someone moved it meanwhile; reload it",
        field="status",
    )


def _rows(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct times and the row of each reading. Times on a regular grid (5-minute data,
    say) are placed by arithmetic in linear time; others by hashing, never by sorting all rows."""
    if len(t):
        lo = int(t.min())
        step = int(np.gcd.reduce(t - lo))
        slots = (int(t.max()) - lo) // step + 1 if step else 1
        if slots <= 4 * len(t) + 1024:
            slot = (t - lo) // step if step else np.zeros(len(t), dtype=np.int64)
            present = np.zeros(slots, dtype=bool)
            present[slot] = True
            rank = np.cumsum(present) - 1
            return lo + step * np.flatnonzero(present), rank[slot]
    codes, seen = pd.factorize(t)
    order = np.argsort(seen)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return seen[order], rank[codes]


def _wide(long: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Shape (k, t, value) rows into a wide frame with numpy: no pivot of text columns."""
    k = long["k"].to_numpy(dtype=np.int64)
    times, row = _rows(long["t"].to_numpy(dtype=np.int64))
    values = np.full((len(times), len(ids)), np.nan)
    values.reshape(-1)[row * len(ids) + k] = long["value"].to_numpy(dtype=float)  # flat: 2x faster
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="us", utc=True), name="time")
    return pd.DataFrame(values, index=index, columns=pd.Index(ids), copy=False)


def _flags(frame: pd.DataFrame) -> pd.DataFrame:
    """A flags frame checked and typed: times in UTC, known kinds, one row per (sensor, kind, start)."""
    missing = set(FLAG_COLUMNS) - set(frame.columns)
    if missing:
        raise InputError(f"flags lack the column '{sorted(missing)[0]}'", field=sorted(missing)[0])
    if frame.empty:
        return empty_flags()
    out = frame.loc[:, list(FLAG_COLUMNS)].copy()
    unknown = set(out["kind"]) - set(FLAG_KINDS)
    if unknown:
        raise InputError(
            f"unknown flag kind '{sorted(unknown)[0]}'; expected one of {FLAG_KINDS}", field="kind"
        )
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
    if (out["end"] < out["start"]).any():
        raise InputError("a flag ends before it starts", field="end")
    out["sensor"] = out["sensor"].astype(str).to_numpy(object)
    out["kind"] = out["kind"].astype(str).to_numpy(object)
    out["detail"] = out["detail"].astype("string").fillna("").to_numpy(object)
    out = out.drop_duplicates(["sensor", "kind", "start"], keep="last")
    return out.sort_values(["sensor", "start", "kind"], ignore_index=True)


def _check_status(status: str) -> None:
    if status not in EVENT_STATUSES:
        raise InputError(
            f"unknown event status '{status}'; expected one of {EVENT_STATUSES}", field="status"
        )


def _readings(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        frame = pd.DataFrame({"sensor": [], "time": [], "value": []})
    missing = {"sensor", "time", "value"} - set(frame.columns)
    if missing:
        raise InputError(f"readings lack the column '{sorted(missing)[0]}'", field=sorted(missing)[0])
    time = pd.to_datetime(frame["time"], utc=True).astype("datetime64[us, UTC]")
    return pd.DataFrame(
        {
            "sensor": frame["sensor"].astype(str).to_numpy(object),
            "time": pd.DatetimeIndex(time),
            "value": frame["value"].to_numpy(dtype=float),
        }
    )


def _quarantine(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Quarantine rows with text cleaned for every backend (PostgreSQL text cannot hold NUL)."""
    if frame is None or frame.empty:
        return None
    out = frame.reindex(columns=list(QUARANTINE_COLUMNS)).copy()
    for col in ("source", "sensor", "payload", "reason", "detail"):
        out[col] = out[col].astype("string").str.replace("\x00", "\\x00", regex=False).fillna("")
        out[col] = out[col].to_numpy(object)
    out["received_at"] = pd.to_datetime(out["received_at"], utc=True).astype("datetime64[us, UTC]")
    return out


def sensors_frame(sensors: Iterable[Sensor]) -> pd.DataFrame:
    """Sensors as a frame with the columns of the ``sensors`` table (installed in UTC)."""
    rows = [[getattr(s, c) for c in SENSOR_COLUMNS] for s in sensors]
    frame = pd.DataFrame(rows, columns=list(SENSOR_COLUMNS))
    frame["installed"] = pd.to_datetime(frame["installed"], utc=True).astype("datetime64[us, UTC]")
    for col in ("valid_min", "valid_max"):
        frame[col] = frame[col].astype(float)
    frame["cumulative"] = frame["cumulative"].astype(bool)
    return frame


def registry_from_frame(frame: pd.DataFrame, source: str) -> SensorRegistry:
    """Rebuild a :class:`SensorRegistry` from rows of the ``sensors`` table."""
    reg = SensorRegistry(source=source)
    installed = pd.to_datetime(frame["installed"], utc=True)
    for i, rec in enumerate(frame.to_dict("records")):
        when = installed.iloc[i]
        reg.add(
            Sensor(
                id=rec["id"],
                kind=rec["kind"],
                unit=rec["unit"],
                node=_text(rec["node"]),
                link=_text(rec["link"]),
                valid_min=float(rec["valid_min"]),
                valid_max=float(rec["valid_max"]),
                dma=_text(rec["dma"]),
                installed=None if pd.isna(when) else when.to_pydatetime(),
                cumulative=bool(rec["cumulative"]),
            )
        )
    return reg


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value)
