"""Server fixtures: a real ``tirta`` subprocess on a free port, and an HTTP client for it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tirta
from services import free_port


class TirtaProcess:
    """``python -m tirta ARGS`` with its output collected line by line on a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        base = {
            "PATH": "/usr/bin:/bin",
            "COLUMNS": "120",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(Path(tirta.__file__).parents[1]),  # the tree under test
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tirta", *args],
            cwd=cwd,
            env={**base, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float) -> str:
        """The first output line containing ``text``; fails with the output so far after the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"no line with {text!r}; output:\n{self.output}")

    def interrupt(self, timeout_s: float = 60.0) -> int:
        """Ctrl-C, then wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_http(
    url: str, headers: dict[str, str], proc: TirtaProcess, timeout_s: float = 60.0
) -> httpx.Response:
    """GET ``url`` until it answers 200 (the server is up), or fail with the server's output."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise AssertionError(f"tirta exited with {proc.proc.returncode}:\n{proc.output}")
        try:
            got = httpx.get(url, headers=headers, timeout=5)
            if got.status_code == 200:
                return got
            last = got.text
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 ({last}); output:\n{proc.output}")


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[object]:
    """Start ``tirta ARGS`` subprocesses; each is killed at the end if still running."""
    started: list[TirtaProcess] = []

    def start(*args: object, env: dict[str, str] | None = None) -> TirtaProcess:
        proc = TirtaProcess([str(a) for a in args], tmp_path, env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture
def http_ok() -> object:
    """:func:`wait_http`: GET a URL until it answers 200."""
    return wait_http
