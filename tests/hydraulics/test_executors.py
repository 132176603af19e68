"""The same inputs give the same results in-process, on a process pool and on a real Dask cluster
(a scheduler and two worker processes): leak signatures and whole scenario batches, byte for byte."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dask_cluster import DaskCluster, dask_cluster  # noqa: F401  (the fixture)
from tirta.errors import InputError
from tirta.hydraulics.executors import (
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    make_executor,
)
from tirta.leaks.localize import compute_signatures
from tirta.network import load_network, load_sensors
from tirta.network.model import builtin_network_path

pytestmark = [pytest.mark.slow, pytest.mark.service]


def _ltown_signatures(executor: object) -> np.ndarray:
    net = load_network("l-town")
    sensors = [
        s.element
        for s in load_sensors(builtin_network_path("l-town").with_name("sensors.json"), net).by_kind(
            "pressure"
        )
    ]
    return compute_signatures(net, sensors[:8], executor=executor, hours=(3.0,), chunks=4).matrix  # type: ignore[arg-type]


def test_signatures_identical_on_every_executor(dask_cluster: DaskCluster) -> None:  # noqa: F811
    serial = _ltown_signatures(SerialExecutor())
    with DaskExecutor(dask_cluster.address) as dask:
        on_dask = _ltown_signatures(dask)
        workers = dask._connect().run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2  # two worker processes, not threads of this one
    pool = _ltown_signatures(ProcessExecutor(2))
    assert serial.shape == (905, 8) and np.abs(serial).max() > 0
    assert np.array_equal(serial, on_dask)
    assert np.array_equal(serial, pool)


def _batch(out: Path, *extra: str) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tirta",
            "simulate",
            "l-town",
            "--days",
            "0.25",
            "--leaks",
            "1",
            "--seed",
            "11",
            "--scenarios",
            "3",
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def test_scenario_batch_byte_identical_on_dask_and_in_process(
    dask_cluster: DaskCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    _batch(tmp_path / "serial")
    _batch(tmp_path / "dask", "--scheduler", dask_cluster.address)
    folders = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert folders == ["scenario-000", "scenario-001", "scenario-002"]
    for name in folders:
        cmp = filecmp.dircmp(tmp_path / "serial" / name, tmp_path / "dask" / name)
        assert not cmp.diff_files and not cmp.left_only and not cmp.right_only, name
        files = sorted(p.name for p in (tmp_path / "serial" / name).iterdir())
        assert {"Pressures.csv", "truth.csv", "scenario.json"} <= set(files)
        assert filecmp.cmp(
            tmp_path / "serial" / name / "Pressures.csv",
            tmp_path / "dask" / name / "Pressures.csv",
            shallow=False,
        )
    # scenario i has seed S + i: different scenarios differ
    assert not filecmp.cmp(
        tmp_path / "serial/scenario-000/Pressures.csv",
        tmp_path / "serial/scenario-001/Pressures.csv",
        shallow=False,
    )


def test_make_executor_choices() -> None:
    assert isinstance(make_executor(env={}), SerialExecutor)
    assert isinstance(make_executor(1, env={}), SerialExecutor)
    assert isinstance(make_executor(2, env={}), ProcessExecutor)
    assert isinstance(make_executor(env={"TIRTA_DASK_SCHEDULER": "tcp://127.0.0.1:8786"}), DaskExecutor)
    with pytest.raises(InputError, match="not both"):
        make_executor(2, "tcp://127.0.0.1:8786", env={})
    with pytest.raises(InputError, match="scheduler address"):
        make_executor(scheduler="127.0.0.1:8786", env={})


def test_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    from services import free_port

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tirta",
            "simulate",
            "l-town",
            "--days",
            "0.1",
            "--scenarios",
            "2",
            "--out",
            str(tmp_path),
            "--scheduler",
            f"tcp://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "cannot reach the Dask scheduler" in run.stderr and "Traceback" not in run.stderr
