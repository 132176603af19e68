"""A real local Dask cluster for tests and benchmarks: ``dask scheduler`` and two ``dask worker``
processes on loopback, started from the installed ``distributed`` and stopped afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import free_port

__all__ = ["DaskCluster", "dask_cluster"]


class DaskCluster:
    """A scheduler on 127.0.0.1 and ``workers`` single-threaded worker processes (own PIDs)."""

    def __init__(self, workdir: Path, workers: int = 2) -> None:
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _dask(self) -> list[str]:
        exe = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
        if exe is None:
            raise FileNotFoundError("the dask command is missing: pip install 'dask[distributed]'")
        return [exe]

    def _spawn(self, args: list[str], name: str) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.procs.append(
            subprocess.Popen(
                [*self._dask(), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"},
                start_new_session=True,
            )
        )

    def start(self, timeout_s: float = 90.0) -> None:
        from distributed import Client

        self._spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], "scheduler"
        )
        for i in range(self.workers):
            self._spawn(
                [
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(self.workdir),
                    "--name",
                    f"w{i}",
                ],
                f"worker{i}",
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with Client(self.address, timeout=5) as client:
                    client.wait_for_workers(self.workers, timeout=max(1.0, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    logs = "\n".join(
                        p.read_text(errors="replace")[-800:] for p in self.workdir.glob("*.log")
                    )
                    self.stop()
                    raise RuntimeError(f"Dask cluster did not start:\n{logs}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A scheduler and two worker processes for the module's tests."""
    pytest.importorskip("distributed", reason="pip install 'tirta[dask]' (make test installs it)")
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    cluster.start()
    yield cluster
    cluster.stop()
