"""Group commit on a thread of its own: items read wait in arrival order, and each commit takes all
that wait (up to a number of messages), so commits grow with the load and the reading thread never
waits for one. After a failed commit nothing more is committed and the error reaches the reader."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["CommitPipe"]

T = TypeVar("T")
R = TypeVar("R")


class CommitPipe(Generic[T, R]):
    """Commit items with ``commit`` (a list of them at a time, in order) on a thread of its own;
    ``wake`` is set after each commit. At most ``max_messages`` messages per commit (but one item
    at least)."""

    def __init__(
        self,
        commit: Callable[[list[T]], R],
        wake: threading.Event,
        *,
        max_messages: int,
        min_bytes: int = 0,
        max_wait_s: float = 0.0,
    ) -> None:
        self._commit, self._wake, self._max = commit, wake, max_messages
        self._min_bytes, self._max_wait_s = min_bytes, max_wait_s
        self._more = False  # whether the last item put said more items follow at once
        self._cond = threading.Condition()
        self._queue: deque[tuple[T, int, int, float]] = deque()  # item, messages, bytes, put at
        self._done: list[R] = []
        self._error: BaseException | None = None
        self._closing = self._busy = False
        self.queued_bytes = 0  # of the items waiting (not those being committed)
        self._thread = threading.Thread(target=self._loop, name="tirta-commit", daemon=True)
        self._thread.start()

    def put(self, item: T, messages: int, size: int, *, more: bool = False) -> None:
        """Queue ``item`` (``messages`` messages, ``size`` payload bytes) for a commit. With ``more``
        (more items follow at once), a commit waits until ``min_bytes`` wait, at most ``max_wait_s``:
        under load, fewer and larger commits (each has a fixed cost) for the same work."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the commit pipe is closed")
            self._queue.append((item, messages, size, time.monotonic()))
            self.queued_bytes += size
            self._more = more
            self._cond.notify()

    def waiting(self) -> list[T]:
        """The items that wait for a commit (not those being committed), oldest first."""
        with self._cond:
            return [entry[0] for entry in self._queue]

    def idle(self) -> bool:
        """Whether nothing waits and nothing is being committed."""
        with self._cond:
            return not self._queue and not self._busy

    def results(self) -> list[R]:
        """The results of the commits since the last call; the error of a failed commit, raised."""
        with self._cond:
            if self._error is not None:
                raise self._error
            done, self._done = self._done, []
            return done

    def close(self) -> None:
        """Commit every item that waits, then end the thread (at once after a failed commit)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _group(self) -> list[T]:
        """The waiting items a commit takes (the caller holds the lock; the queue is not empty)."""
        item, messages, size, _ = self._queue.popleft()
        group, taken = [item], size
        while self._queue and messages + self._queue[0][1] <= self._max:
            item, n, size, _ = self._queue.popleft()
            group.append(item)
            messages, taken = messages + n, taken + size
        self.queued_bytes -= taken
        return group

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing:
                    if not self._queue:
                        self._cond.wait()
                        continue
                    wait = self._queue[0][3] + self._max_wait_s - time.monotonic()
                    if not self._more or self.queued_bytes >= self._min_bytes or wait <= 0:
                        break
                    self._cond.wait(wait)
                if not self._queue:
                    return
                group = self._group()
                self._busy = True
            try:
                result = self._commit(group)
            except BaseException as exc:  # nothing newer may be committed: stop here
                with self._cond:
                    self._error, self._busy = exc, False
                    self._queue.clear()
                    self.queued_bytes = 0
                self._wake.set()
                return
            with self._cond:
                self._done.append(result)
                self._busy = False
            self._wake.set()
