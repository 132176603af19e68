"""The balance of every DMA at once, each DMA a task on an executor (process pool or Dask cluster).

Each task opens the store by its URL, so on PostgreSQL the DMAs are read and balanced side by side by
as many workers as the executor has (on several machines with Dask). An embedded DuckDB file has one
writer process and is balanced DMA by DMA in this process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tirta.balance.billing import load_billing
from tirta.balance.dmabalance import BalanceOptions, dma_balance, dma_balance_report
from tirta.balance.zone import resolve_zone
from tirta.config import parse_store_url
from tirta.errors import TirtaError
from tirta.hydraulics.executors import Executor, SerialExecutor
from tirta.network.dma import load_dmas
from tirta.network.model import Network, load_network
from tirta.telemetry.store import Store, open_store

__all__ = ["DmaTask", "balance_all", "balance_one"]

_MODELS: dict[tuple[str, str], tuple[Network | None, list[Any]]] = {}


@dataclass(frozen=True)
class DmaTask:
    """One DMA's balance: where the store, model, DMA file and billing are, and the period."""

    store_url: str
    dma: str
    dma_file: str
    network: str | None
    start: pd.Timestamp
    end: pd.Timestamp
    billing: str | None = None
    options: BalanceOptions = field(default_factory=BalanceOptions)


def _model(task: DmaTask) -> tuple[Network | None, list[Any]]:
    """The model and DMAs, loaded once per worker process."""
    key = (task.network or "", task.dma_file)
    if key not in _MODELS:
        net = load_network(task.network) if task.network else None
        _MODELS.clear()
        _MODELS[key] = (net, load_dmas(task.dma_file, net))
    return _MODELS[key]


def balance_one(task: DmaTask, store: Store | None = None) -> dict[str, Any]:
    """The JSON-ready balance report of one DMA, or ``{"dma", "error"}`` when its data do not allow one."""
    net, dmas = _model(task)

    def run(st: Store) -> dict[str, Any]:
        zone = resolve_zone(task.dma, dmas, st.sensors(), net)
        bills = load_billing(task.billing) if task.billing else None
        report: dict[str, Any] = dma_balance_report(
            dma_balance(st, zone, task.start, task.end, billing=bills, options=task.options)
        )
        return report

    try:
        if store is not None:
            return run(store)
        with open_store(task.store_url) as st:
            return run(st)
    except TirtaError as exc:  # one DMA without data must not hide the others
        return {"dma": task.dma, "error": str(exc)}


def balance_all(tasks: Sequence[DmaTask], executor: Executor | None = None) -> dict[str, dict[str, Any]]:
    """Every DMA's report by name; on PostgreSQL each DMA is a task of ``executor``."""
    if not tasks:
        return {}
    backend = parse_store_url(tasks[0].store_url).backend
    if backend == "duckdb" or executor is None or isinstance(executor, SerialExecutor):
        with open_store(tasks[0].store_url) as st:
            return {t.dma: balance_one(t, st) for t in tasks}
    results = executor.map(balance_one, list(tasks))
    return {t.dma: r for t, r in zip(tasks, results, strict=True)}


def dma_names(dma_file: str | Path, network: str | Path | None) -> list[str]:
    """The names of the DMAs in a DMA file."""
    net = load_network(network) if network else None
    return [d.name for d in load_dmas(dma_file, net)]
