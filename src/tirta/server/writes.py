"""The one store handle of a serve process: every write takes its turn on one lock, reads run freely.

DuckDB allows one writing process, and inside it writes from several threads (API ingest, MQTT,
the demo's replay, detection filing events) must not interleave their transactions. The API, the
ingesters and the jobs all get this wrapper instead of the store, so writes are serialised here, in
the runtime, whatever the store does inside; reads go straight to the store (DuckDB readers use
their own cursors and never block a writer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from tirta.telemetry.store.base import Store

__all__ = ["WRITES", "SerialStore", "serialise"]

#: the store methods that write (everything else reads)
WRITES = frozenset(
    {
        "ingest",
        "write",
        "submit",
        "add_sensors",
        "add_event",
        "set_event_status",
        "add_flags",
        "rollup",
        "prune",
        "compact",
    }
)


class SerialStore:
    """Wraps a store: its writing methods hold one lock for the whole call; counts and wait times."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.writes = 0
        self.failed = 0
        self.waited_s = 0.0  # total time writers waited for their turn
        self.longest_wait_s = 0.0
        self._stats = threading.Lock()

    def _serial(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            asked = time.monotonic()
            with self.lock:
                wait = time.monotonic() - asked
                try:
                    return method(*args, **kwargs)
                except BaseException:
                    with self._stats:
                        self.failed += 1
                    raise
                finally:
                    with self._stats:
                        self.writes += 1
                        self.waited_s += wait
                        self.longest_wait_s = max(self.longest_wait_s, wait)

        call.__name__ = getattr(method, "__name__", "write")
        call.__doc__ = method.__doc__
        return call

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name in WRITES:
            return self._serial(attr)
        return attr

    def __enter__(self) -> SerialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store once the write in progress (if any) is done."""
        with self.lock:
            self.store.close()

    def stats(self) -> dict[str, Any]:
        """Writes done, failed, and how long writers waited for their turn (s)."""
        with self._stats:
            return {
                "writes": self.writes,
                "failed": self.failed,
                "waited_s": round(self.waited_s, 3),
                "longest_wait_s": round(self.longest_wait_s, 3),
            }

    def as_store(self) -> Store:
        """This wrapper typed as the store it stands for (it answers every Store method)."""
        return cast(Store, self)


def serialise(store: Store) -> SerialStore:
    """The serialising wrapper of ``store`` (a wrapper is returned as it is)."""
    return store if isinstance(store, SerialStore) else SerialStore(store)
