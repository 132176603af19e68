"""The analytics the serve process runs on a schedule: live leak detection and the nightly DMA balance.

Each job calls the domain function (``tirta.leaks.live.run_live``, ``tirta.balance.dma_balance``) at
the runtime's clock time and returns a small JSON-ready summary for the status page; the nightly
balance keeps its per-DMA reports for the API and dashboard in the store (see :class:`Analytics`),
so they survive a restart and every process on one PostgreSQL answers with the same.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tirta.balance import BalanceOptions, dma_balance, dma_balance_report, load_billing, resolve_zone
from tirta.errors import TirtaError
from tirta.leaks.live import NoReadings, run_live
from tirta.leaks.localize import Executor, ProcessExecutor
from tirta.network import DMA, Network
from tirta.server.scheduler import Clock
from tirta.telemetry.store.base import Store

__all__ = ["BALANCE_RECORD", "Analytics", "BalanceJob", "CompactJob", "DetectJob"]


BALANCE_RECORD = ("analytics", "nightly_balance")  # record (kind, key) of the last nightly balance
CLAIM_KIND = "job-claims"  # records claiming a nightly period, so one server of several computes it
CLAIM_STALE = pd.Timedelta(hours=1)  # a claim this old without a result is taken over (its server died)


@dataclass
class Analytics:
    """Latest results of the scheduled analytics, shared with the API (thread-safe); kept as a record
    of ``store`` when one is given, else in memory only."""

    store: Store | None = None
    _balance: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_balance(self, value: dict[str, Any]) -> None:
        with self._lock:
            self._balance = value
        if self.store is not None:
            self.store.put_record(*BALANCE_RECORD, value)

    def balance(self) -> dict[str, Any] | None:
        """The nightly per-DMA balance and night flow: period, computed_at, one report per DMA."""
        if self.store is not None:
            rec = self.store.get_record(*BALANCE_RECORD)
            if rec is not None:
                return rec.value
        with self._lock:
            return self._balance


@dataclass
class DetectJob:
    """Detect, localise and file leaks from the calibration window up to the clock's "now"."""

    store: Store
    network: Network
    dmas: Sequence[DMA]
    train: tuple[pd.Timestamp, pd.Timestamp]
    clock: Clock
    window_days: float = 14.0
    workers: int = 0
    min_watch: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(hours=2))

    def __call__(self) -> dict[str, Any]:
        now = self.clock().floor("5min")
        begin = self.train[1]
        if self.window_days > 0:
            begin = max(begin, now - pd.Timedelta(days=self.window_days))
        if now - begin < self.min_watch:
            hours = self.min_watch.total_seconds() / 3600.0
            return {"skipped": f"less than {hours:g} h of data after the calibration window"}
        executor: Executor | None = ProcessExecutor(self.workers) if self.workers > 0 else None
        try:
            res = run_live(
                self.store, self.network, train=self.train, dmas=self.dmas, now=now, since=begin,
                executor=executor,
            )  # fmt: skip
        except NoReadings as exc:  # no data in the calibration or the watched window: nothing to do
            if exc.start == self.train[0]:
                return {"skipped": f"no readings in the calibration window: {exc.message}"}
            since = f"the last {self.window_days:g} days" if self.window_days > 0 else "calibration"
            return {"skipped": f"no readings since {since} (the watched window ends at the wall clock)"}
        return {
            "window": [res.start.isoformat(), res.end.isoformat()],
            "found": len(res.found),
            "opened": res.opened,
            "updated": res.updated,
            "close_proposed": res.proposed,
        }


@dataclass
class BalanceJob:
    """Night flow and water balance of every DMA over the last ``days`` days before the last midnight."""

    store: Store
    network: Network
    dmas: Sequence[DMA]
    clock: Clock
    analytics: Analytics
    days: float = 7.0
    billing: Path | None = None
    fan_out: tuple[str, str, str | None, Executor] | None = None  # store URL, DMA file, model, executor
    claim: bool = True  # claim the period in the store first: of several servers, one computes it

    def _claimed_elsewhere(self, end: pd.Timestamp) -> str | None:
        """None when this process may compute the period ending at ``end`` (it now holds the claim);
        else why not: another server computed it, or is computing it (a claim younger than an hour)."""
        key = f"nightly_balance:{end.isoformat()}"
        now = pd.Timestamp.now(tz="UTC")
        mine = {"by": f"{socket.gethostname()}:{os.getpid()}", "at": now.isoformat()}
        if self.store.put_record(CLAIM_KIND, key, mine, only_if_new=True):
            return None
        found = self.store.get_record(CLAIM_KIND, key)
        if found is None:  # released meanwhile: claim it again
            return None if self.store.put_record(CLAIM_KIND, key, mine, only_if_new=True) else "claimed"
        done = self.analytics.balance()
        by = found.value.get("by", "?")
        if done is not None and done.get("end") == end.isoformat():
            return f"this period was computed by {by} at {done.get('computed_at')}"
        if now - pd.Timestamp(found.value.get("at", now.isoformat())) < CLAIM_STALE:
            return f"this period is being computed by {by} (claimed at {found.value.get('at')})"
        if self.store.swap_record(CLAIM_KIND, key, found.value, mine):  # its server died: take over
            return None
        return "another server took this period over meanwhile"

    def _fanned(self, start: pd.Timestamp, end: pd.Timestamp) -> tuple[dict[str, Any], dict[str, str]]:
        """Each DMA a task of the executor, every worker reading the PostgreSQL store itself."""
        from tirta.balance.parallel import DmaTask, balance_all

        assert self.fan_out is not None
        url, dma_file, model, executor = self.fan_out
        billing = str(self.billing) if self.billing else None
        tasks = [DmaTask(url, d.name, dma_file, model, start, end, billing) for d in self.dmas]
        found = balance_all(tasks, executor)
        reports = {k: v for k, v in found.items() if "error" not in v}
        return reports, {k: v["error"] for k, v in found.items() if "error" in v}

    def __call__(self) -> dict[str, Any]:
        end = self.clock().normalize()  # the last midnight: whole days only
        start = end - pd.Timedelta(days=self.days)
        if self.claim and (elsewhere := self._claimed_elsewhere(end)) is not None:
            return {"skipped": elsewhere, "period": [start.isoformat(), end.isoformat()]}
        bills = load_billing(self.billing) if self.billing is not None else None
        sensors = self.store.sensors()
        reports: dict[str, Any] = {}
        errors: dict[str, str] = {}
        if self.fan_out is not None:
            reports, errors = self._fanned(start, end)
        for dma in self.dmas if self.fan_out is None else ():
            try:
                zone = resolve_zone(dma.name, list(self.dmas), sensors, self.network)
                result = dma_balance(
                    self.store, zone, start, end, billing=bills, options=BalanceOptions()
                )
                reports[dma.name] = dma_balance_report(result)
            except TirtaError as exc:  # one DMA without data must not hide the others
                errors[dma.name] = str(exc)
        self.analytics.set_balance(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "computed_at": pd.Timestamp.now(tz="UTC").isoformat(),
                "dmas": reports,
                "errors": errors,
            }
        )
        if not reports and errors:
            raise TirtaError("; ".join(f"{k}: {v}" for k, v in errors.items()))
        return {
            "period": [start.isoformat(), end.isoformat()],
            "dmas": sorted(reports),
            "errors": errors,
        }


@dataclass
class CompactJob:
    """Pack live rows older than ``keep_days`` whole days into per-sensor-day blocks (PostgreSQL
    stores), so that long queries keep reading only the sensors asked for."""

    store: Any
    clock: Clock
    keep_days: float = 2.0

    def __call__(self) -> dict[str, Any]:
        before = self.clock().normalize() - pd.Timedelta(days=self.keep_days)
        return {"before": before.isoformat(), "moved": int(self.store.compact(before))}
