"""Replay recorded telemetry in accelerated time through the ordinary ingestion (the demo's live feed).

The records of a file (as :func:`tirta.telemetry.ingest.read_file` reads them) up to ``start`` are
ingested at once; the rest is fed to :func:`tirta.telemetry.ingest.ingest_records` tick by tick as
the replay clock passes their time stamps, ``speed`` simulated seconds per wall-clock second. The
clock is the runtime's clock in the demo, so detection and nightly jobs see the replayed "now".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tirta.network.sensors import Sensor
from tirta.telemetry.ingest import ingest_records
from tirta.telemetry.schema import IngestResult
from tirta.telemetry.store.base import Store

__all__ = ["Replay"]

log = logging.getLogger("tirta.server.replay")


class Replay:
    """Feed ``records`` (sensor, time, value, unit, …) to ``store``: before ``start`` at once, after it
    as the clock passes them; the clock stops at the last record. The runtime may set ``store`` later."""

    def __init__(
        self,
        store: Store | None,
        records: pd.DataFrame | pa.Table,
        *,
        start: pd.Timestamp,
        speed: float,
        source: str = "replay",
        tick_s: float = 1.0,
        sensors: Sequence[Sensor] = (),
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        frame = records.to_pandas() if isinstance(records, pa.Table) else records
        # a time the file got wrong is NaT here: replayed first, quarantined by the validation
        times = pd.to_datetime(frame["time"], utc=True, errors="coerce")
        order = np.argsort(times.to_numpy(), kind="stable")
        self.store = store
        self.sensors = list(sensors)
        self.records = frame.iloc[order].reset_index(drop=True)
        self.times = pd.DatetimeIndex(times.iloc[order]).as_unit("ns")
        self._ns = self.times.asi8  # searched as integers: clock and file may differ in resolution
        self.start = start.tz_convert("UTC") if start.tzinfo else start.tz_localize("UTC")
        self.end = self.times[-1] if len(self.times) else self.start
        self.speed = float(speed)
        self.source = source
        self.tick_s = tick_s
        self.sent = 0  # records handed to ingestion, the initial load included
        self.totals = IngestResult()
        self.last_error: str | None = None
        self._cursor = 0
        self._t0: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- clock ------------------------------------------------------------------------------------
    def clock(self) -> pd.Timestamp:
        """The replayed "now": ``start`` until the replay runs, then ``speed`` times faster than real
        time, held at the end once everything is replayed."""
        if self._t0 is None:
            return self.start
        elapsed = (time.monotonic() - self._t0) * self.speed
        return min(self.start + pd.Timedelta(seconds=elapsed), max(self.end, self.start))

    @property
    def done(self) -> bool:
        return self._cursor >= len(self.records)

    # --- feeding ----------------------------------------------------------------------------------
    def load_initial(self) -> IngestResult:
        """Register the sensors, then ingest every record before ``start`` at once (calibration)."""
        if self.sensors and self.store is not None:
            self.store.add_sensors(self.sensors, replace=True)
        upto = int(np.searchsorted(self._ns, self.start.as_unit("ns").value, side="left"))
        return self._feed(upto)

    def _feed(self, upto: int) -> IngestResult:
        if upto <= self._cursor:
            return IngestResult()
        if self.store is None:
            raise RuntimeError("the replay has no store yet")
        chunk = self.records.iloc[self._cursor : upto]
        result = ingest_records(self.store, chunk, source=self.source)
        self._cursor = upto
        self.sent += len(chunk)
        self.totals = self.totals + result
        return result

    def step(self) -> IngestResult:
        """Ingest the records whose time the clock has passed; returns what this step stored."""
        upto = int(np.searchsorted(self._ns, self.clock().as_unit("ns").value, side="right"))
        return self._feed(upto)

    def start_thread(self) -> None:
        """Load the calibration period, then replay on a daemon thread until done or :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tirta-replay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.load_initial()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("replay: the initial load failed")
            return
        self._t0 = time.monotonic()
        while not self._stop.is_set() and not self.done:
            try:
                self.step()
            except Exception as exc:  # keep replaying; the status shows the error
                error = f"{type(exc).__name__}: {exc}"
                if error != self.last_error:  # log each new error once, not every tick
                    log.exception("replay: ingest failed")
                self.last_error = error
            self._stop.wait(self.tick_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def status(self) -> dict[str, Any]:
        total = len(self.records)
        return {
            "clock": self.clock().isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "speed": self.speed,
            "sent": self.sent,
            "total": total,
            "progress": round(self.sent / total, 4) if total else 1.0,
            "accepted": self.totals.accepted,
            "duplicate": self.totals.duplicate,
            "quarantined": self.totals.quarantined,
            "done": self.done,
            "last_error": self.last_error,
        }
