"""Scenario batches: N simulations of one network, scenario i with seed S + i, on any executor.

Workers compute and return the frames; this process writes them, so the files are byte-identical
whichever executor ran the scenarios (and a Dask worker on another machine needs no shared disk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tirta.errors import InputError
from tirta.hydraulics.executors import Executor, SerialExecutor
from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, simulate, write_simulation
from tirta.network.model import Network, load_network
from tirta.network.sensors import load_sensors

__all__ = ["scenario_dirs", "simulate_batch"]

_NETWORKS: dict[tuple[str, float], Network] = {}


@dataclass(frozen=True)
class _Scenario:
    inp: str
    cfg: SimulationConfig
    sensors_file: str | None


def _worker_network(inp: str) -> Network:
    """This process's copy of the model: loaded once per worker, reused by its scenarios."""
    key = (inp, Path(inp).stat().st_mtime)
    if key not in _NETWORKS:
        _NETWORKS.clear()
        _NETWORKS[key] = load_network(inp)
    return _NETWORKS[key]


def _run(task: _Scenario) -> SimulationResult:
    net = _worker_network(task.inp)
    sensors = load_sensors(task.sensors_file, net) if task.sensors_file else None
    return simulate(net, task.cfg, sensors=sensors)


def scenario_dirs(out: Path, n: int) -> list[Path]:
    """``out/scenario-000`` … one folder per scenario."""
    return [out / f"scenario-{i:03d}" for i in range(n)]


def simulate_batch(
    network: Network,
    cfg: SimulationConfig,
    scenarios: int,
    out: str | Path,
    *,
    sensors_file: str | Path | None = None,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Simulate ``scenarios`` runs (seed ``cfg.seed + i``) and write each under ``out/scenario-iii``.

    Scenarios go to the executor a round at a time (results are whole frames: memory stays bounded).
    """
    if scenarios < 1:
        raise InputError(f"must be at least 1, got {scenarios}", field="scenarios")
    ex = executor or SerialExecutor()
    dirs = scenario_dirs(Path(out), scenarios)
    tasks = [
        _Scenario(
            str(network.path),
            replace(cfg, seed=cfg.seed + i),
            str(sensors_file) if sensors_file else None,
        )
        for i in range(scenarios)
    ]
    per_round = max(2, 2 * int(getattr(ex, "workers", None) or 2))
    done = 0
    for first in range(0, scenarios, per_round):
        part = tasks[first : first + per_round]
        for task, result, folder in zip(part, ex.map(_run, part), dirs[first:], strict=False):
            write_simulation(result, folder, network, task.cfg)
            done += 1
            if progress is not None:
                progress(done, scenarios)
    return dirs
