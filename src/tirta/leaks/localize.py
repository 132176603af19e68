"""Leak localisation: match the observed pressure-residual change with simulated leak signatures.

A signature is the pressure change (m per L/s of leak) at the pressure sensors for a small leak,
simulated with the hydraulic engine (one project open, the emitter moved node by node) at a few
operating points and averaged; a pipe's signature is the mean of its two end nodes' (the midpoint
leak node, to first order). Observed and simulated changes are compared by least squares after
projecting out nuisance directions (a common offset, the learned common modes of the residuals).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tirta.hydraulics.engine import Engine
from tirta.hydraulics.executors import Executor, ProcessExecutor, SerialExecutor
from tirta.hydraulics.scenarios import PDA
from tirta.leaks.evaluate import PipeDistances
from tirta.network.model import Network

__all__ = [
    "Candidate",
    "Executor",
    "Localisation",
    "ProcessExecutor",
    "SerialExecutor",
    "Signatures",
    "cached_signatures",
    "compute_signatures",
    "localise",
]

UNIT_LEAK_M3S = 3e-3  # size of the simulated leak; signatures are scaled to 1 L/s
OPERATING_HOURS = (3.0, 14.0)  # night and afternoon: the signature is the mean over both


@dataclass(frozen=True)
class _Task:
    """One chunk of candidate nodes simulated in one engine session."""

    inp: str
    sensors: tuple[str, ...]
    nodes: tuple[str, ...]
    hours: tuple[float, ...]
    required_pressure_m: float
    midpoints: bool = False  # ``nodes`` are pipes: leak at a node inserted at each one's middle


def _simulate_chunk(task: _Task) -> np.ndarray:
    """Pressure change (m per L/s) at the sensors for a leak at each node: nodes × sensors."""
    if task.midpoints:  # leak nodes change the project: a session of its own
        with Engine(task.inp, pda=PDA(required_pressure_m=task.required_pressure_m)) as eng:
            return _chunk_on(eng, task, eng.add_leak_nodes(task.nodes))
    return _chunk_on(_worker_engine(task.inp, task.required_pressure_m), task, list(task.nodes))


_ENGINES: dict[tuple[str, float, float], Engine] = {}


def _worker_engine(inp: str, required_pressure_m: float) -> Engine:
    """This process's open project for ``inp``: opened once per worker and reused by its tasks."""
    key = (inp, Path(inp).stat().st_mtime, required_pressure_m)
    if key not in _ENGINES:
        while _ENGINES:
            _ENGINES.popitem()[1].close()
        pda = PDA(required_pressure_m=required_pressure_m)
        _ENGINES[key] = Engine(inp, pda=pda, warm_start=True, snapshots=True)
    return _ENGINES[key]


def _chunk_on(eng: Engine, task: _Task, nodes: list[str]) -> np.ndarray:
    """The chunk's signatures on an open engine; each operating point starts cold, so the result
    does not depend on what the engine solved before (the same on every executor)."""
    out = np.zeros((len(task.nodes), len(task.sensors)))
    sens = np.array([eng.node_index(s) - 1 for s in task.sensors], dtype=int)
    nidx = np.array([eng.node_index(n) - 1 for n in nodes], dtype=int)
    for hour in task.hours:
        t = int(hour * 3600)
        eng.warm_start = False
        base = eng.solve_snapshot(t).pressure_m
        eng.warm_start = True
        coef = UNIT_LEAK_M3S / math.sqrt(max(float(np.median(base[nidx])), 10.0))
        for i, node in enumerate(nodes):
            eng.set_emitter(node, coef)
            snap = eng.solve_snapshot(t)
            eng.set_emitter(node, 0.0)
            q = coef * math.sqrt(max(float(snap.pressure_m[nidx[i]]), 0.0))
            if q > 1e-6:
                out[i] += (snap.pressure_m[sens] - base[sens]) / (q * 1000.0)
    return out / len(task.hours)


@dataclass
class Signatures:
    """Pipe signatures (m per L/s) at the pressure sensors: pipes × sensors."""

    pipes: list[str]
    sensors: list[str]
    matrix: np.ndarray

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.matrix, index=self.pipes, columns=self.sensors)


def compute_signatures(
    network: Network,
    sensors: Sequence[str],
    *,
    executor: Executor | None = None,
    hours: Sequence[float] = OPERATING_HOURS,
    chunks: int = 2,
    required_pressure_m: float = 25.0,
    midpoints: bool = False,
    junctions: int | None = None,
) -> Signatures:
    """Simulate a small leak at every junction and build pipe signatures from the end nodes, or
    (``midpoints``) at a node inserted at the middle of every pipe, as the leaks really sit."""
    nodes = network.nodes
    pipes = network.links[network.links["type"] == "Pipe"]
    if midpoints:
        ids = list(pipes.index)
        parts = [tuple(ids[i::chunks]) for i in range(chunks)]
        tasks = [
            _Task(str(network.path), tuple(sensors), p, tuple(hours), required_pressure_m, True)
            for p in parts
            if p
        ]
        results = (executor or SerialExecutor()).map(_simulate_chunk, tasks)
        sig = {
            n: row
            for t, r in zip(tasks, results, strict=True)
            for n, row in zip(t.nodes, r, strict=True)
        }
        return Signatures(ids, list(sensors), np.array([sig[p] for p in ids]))
    candidates = list(nodes.index[nodes["type"] == "Junction"])
    if junctions is not None:  # the first N junctions only (benchmarks of very large networks)
        candidates = candidates[:junctions]
    parts = [tuple(candidates[i::chunks]) for i in range(chunks)]
    tasks = [
        _Task(str(network.path), tuple(sensors), part, tuple(hours), required_pressure_m)
        for part in parts
        if part
    ]
    results = (executor or SerialExecutor()).map(_simulate_chunk, tasks)
    node_sig = {
        n: row
        for task, res in zip(tasks, results, strict=True)
        for n, row in zip(task.nodes, res, strict=True)
    }
    zero = np.zeros(len(sensors))
    matrix = np.array(
        [
            (node_sig.get(a, zero) + node_sig.get(b, zero)) / 2.0
            for a, b in zip(pipes["start_node"], pipes["end_node"], strict=True)
        ]
    )
    return Signatures(list(pipes.index), list(sensors), matrix)


_CACHE: dict[tuple[str, float, tuple[str, ...], tuple[float, ...], bool], Signatures] = {}


def cached_signatures(
    network: Network,
    sensors: Sequence[str],
    executor: Executor | None = None,
    *,
    midpoints: bool = False,
) -> Signatures:
    """Signatures cached per network file (path and modification time), sensor set and operating points."""
    path = Path(network.path)
    key = (str(path.resolve()), path.stat().st_mtime, tuple(sensors), tuple(OPERATING_HOURS), midpoints)
    if key not in _CACHE:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compute_signatures(network, sensors, executor=executor, midpoints=midpoints)
    return _CACHE[key]


@dataclass(frozen=True)
class Candidate:
    """A candidate pipe: its score (posterior weight), fitted leak size (L/s) and fit residual (m²)."""

    pipe: str
    score: float
    size_lps: float
    sse: float


def _fit(
    change_m: pd.Series,
    signatures: Signatures,
    sensors: list[str],
    keep: np.ndarray,
    nuisance: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares leak size (L/s, ≥ 0), residual sum of squares and residuals of each candidate."""
    cols = np.array([signatures.sensors.index(s) for s in sensors], dtype=int)
    d = change_m[sensors].to_numpy(dtype=float)
    n = np.ones((len(sensors), 1))
    if nuisance is not None:
        n = np.c_[n, nuisance[cols]]
    proj = np.eye(len(sensors)) - n @ np.linalg.pinv(n)
    s = signatures.matrix[np.ix_(keep, cols)] @ proj.T  # candidates × sensors
    dp = proj @ d
    ss = np.einsum("ij,ij->i", s, s)
    a = np.where(ss > 0, s @ dp / np.where(ss > 0, ss, 1.0), 0.0)
    a = np.maximum(a, 0.0)  # a leak only takes water out
    resid = dp[None, :] - a[:, None] * s
    return a, np.einsum("ij,ij->i", resid, resid), resid


def _physical(column: str) -> str:
    """The sensor behind a column: ``block:sensor`` columns of stacked residuals share one sensor."""
    return column.rpartition(":")[2]


@dataclass(frozen=True)
class Localisation:
    """Ranked candidate pipes, the chosen pipe and the radius (m) holding 90 % of the weight."""

    pipe: str
    radius_m: float
    size_lps: float
    candidates: tuple[Candidate, ...]


def localise(
    change_m: pd.Series,
    signatures: Signatures,
    distances: PipeDistances,
    *,
    pipes: Iterable[str] | None = None,
    nuisance: np.ndarray | None = None,
    noise_m: float = 0.02,
    size_lps: float | None = None,
    size_sigma: float = 0.5,
    top: int = 20,
    outlier: float = 5.0,
    max_outliers: int = 2,
) -> Localisation:
    """Rank candidate pipes for an observed pressure change (m per sensor, leak minus before).

    ``pipes`` restricts the candidates (e.g. to the alarm's zone); ``nuisance`` holds extra
    directions (sensors × k) that the fit may use freely; ``size_lps`` (from a flow balance) adds a
    prior on the fitted size with relative spread ``size_sigma``. When the best fit misses by more
    than ``outlier`` noise levels and leaving one sensor out cuts the misfit fourfold, that sensor is
    dropped (at most ``max_outliers``: stuck or drifting sensors). The chosen pipe minimises the
    expected network distance to the weighted candidates.
    """
    sensors = [s for s in signatures.sensors if s in change_m.index and np.isfinite(change_m[s])]
    keep = np.arange(len(signatures.pipes))
    if pipes is not None:
        wanted = set(pipes)
        keep = np.array([i for i, p in enumerate(signatures.pipes) if p in wanted], dtype=int)
    a, sse, _ = _fit(change_m, signatures, sensors, keep, nuisance)
    for _ in range(max_outliers):
        # a stuck or drifting sensor: the fit is poor with it and good without it
        if sse.min() <= (outlier * noise_m) ** 2 or len(sensors) <= 6:
            break
        trials = []
        for name in dict.fromkeys(_physical(s) for s in sensors):
            rest = [s for s in sensors if _physical(s) != name]
            trials.append((float(_fit(change_m, signatures, rest, keep, nuisance)[1].min()), name))
        best_sse, name = min(trials)
        if best_sse > 0.25 * sse.min():
            break
        sensors = [s for s in sensors if _physical(s) != name]
        a, sse, _ = _fit(change_m, signatures, sensors, keep, nuisance)
    cost = sse / (2.0 * noise_m**2)
    if size_lps is not None and size_lps > 0:
        cost = cost + (np.log(np.maximum(a, 1e-3) / size_lps)) ** 2 / (2.0 * size_sigma**2)
    w = np.exp(-(cost - cost.min()))
    w = w / w.sum()
    order = np.argsort(-w)
    best = order[: max(top, 1)]
    # pick the pipe with the smallest expected distance to the weighted candidates
    mass = order[: np.searchsorted(np.cumsum(w[order]), 0.99) + 1]
    ids = [distances.index(signatures.pipes[keep[i]]) for i in mass]
    dm = distances.matrix[np.ix_(ids, ids)]
    dm = np.where(np.isfinite(dm), dm, 1e5)
    expected = dm @ w[mass]
    pick = int(np.argmin(expected))
    chosen = mass[pick]
    dist_from = dm[pick]
    by = np.argsort(dist_from)
    cum = np.cumsum(w[mass][by]) / max(w[mass].sum(), 1e-12)
    radius = float(dist_from[by][min(np.searchsorted(cum, 0.9), len(by) - 1)])
    cands = tuple(
        Candidate(signatures.pipes[keep[i]], float(w[i]), float(a[i]), float(sse[i])) for i in best
    )
    return Localisation(signatures.pipes[keep[chosen]], radius, float(a[chosen]), cands)
