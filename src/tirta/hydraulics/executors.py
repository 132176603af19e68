"""Where independent hydraulic tasks run: in this process, on a local process pool, or on a Dask cluster.

Every fan-out in tirta (leak signatures, localisation candidates, scenario batches, planning
what-ifs) takes an :class:`Executor`; scale-out is a new executor, never a new code path. Tasks are
plain picklable values and results come back as arrays or frames, in the order of the tasks, so the
same inputs give the same results on every executor.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final, Protocol, TypeVar

from tirta.errors import InputError

__all__ = [
    "SCHEDULER_ENV",
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")

SCHEDULER_ENV: Final = "TIRTA_DASK_SCHEDULER"


class Executor(Protocol):
    """Runs independent tasks and returns their results in task order."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...


class SerialExecutor:
    """Runs the tasks one after the other in this process."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]


class ProcessExecutor:
    """Runs the tasks on a ``concurrent.futures`` process pool (one EPANET project per worker task).

    Workers come from a fork server, not a plain fork: a process that already runs threads (the
    store's writer, an MQTT client, a web server) must not be forked, or the child can crash.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([fn.__module__])  # workers start with tirta already imported
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
            return list(pool.map(fn, items))


class DaskExecutor:
    """Runs the tasks on a ``dask.distributed`` cluster given by its scheduler address.

    The client connects on first use and is kept for later maps; :meth:`close` ends it. Tasks are
    submitted as impure (each runs, nothing is deduplicated) and gathered in task order.
    """

    def __init__(self, scheduler: str, *, timeout_s: float = 10.0) -> None:
        self.scheduler = scheduler
        self.timeout_s = timeout_s
        self._client: Any = None

    def _connect(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise InputError(
                    "a Dask scheduler needs the dask extra: pip install 'tirta[dask]'", field="scheduler"
                ) from None
            try:
                self._client = Client(self.scheduler, timeout=self.timeout_s)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}", field="scheduler"
                ) from None
        return self._client

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        client = self._connect()
        futures = client.map(fn, list(items), pure=False)
        return list(client.gather(futures))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    workers: int | None = None, scheduler: str | None = None, *, env: dict[str, str] | None = None
) -> Executor:
    """The executor a command asked for: ``scheduler`` (or $TIRTA_DASK_SCHEDULER) → Dask,
    ``workers`` > 1 → a local process pool, else this process."""
    environ = os.environ if env is None else env
    address = scheduler or environ.get(SCHEDULER_ENV) or None
    if address is not None and workers is not None:
        raise InputError("give --workers or --scheduler, not both", field="workers")
    if address is not None:
        if not address.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise InputError(
                f"expected a scheduler address like tcp://host:8786, got {address!r}", field="scheduler"
            )
        return DaskExecutor(address)
    if workers is not None and workers < 1:
        raise InputError(f"must be at least 1, got {workers}", field="workers")
    return ProcessExecutor(workers) if workers and workers > 1 else SerialExecutor()
