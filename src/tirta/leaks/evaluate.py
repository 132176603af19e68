"""Scoring leak detections against ground truth: the BattLeDIM rules and a stricter operational view.

Pipe distance (BattLeDIM): 0 for the same pipe, else the shortest path (m) between the two pipes' end
nodes over the pipe-only graph plus half of each pipe's length; pipes across a PRV or pump are
unreachable. The operational view counts a detection only within 300 m of the leak, while the leak is
active and no later than 7 days after it reached full size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from tirta.errors import InputError
from tirta.network.model import Network

__all__ = [
    "COST_CREW_EUR",
    "COST_WATER_EUR_M3",
    "MAX_DISTANCE_M",
    "Detection",
    "PipeDistances",
    "Score",
    "read_results",
    "score",
    "score_battledim",
    "score_operational",
    "summarise",
    "write_results",
]

MAX_DISTANCE_M = 300.0  # BattLeDIM xmax: a detection further along the network than this misses
COST_WATER_EUR_M3 = 0.80
COST_CREW_EUR = 500.0
MAX_LATE = pd.Timedelta(days=7)  # operational rule: no later than 7 days after full size
RESULTS_HEADER = "# linkID, startTime"
_STEP = pd.Timedelta(minutes=5)


@dataclass(frozen=True)
class Detection:
    """One reported leak: the pipe and the (estimated start) time, UTC."""

    pipe: str
    time: pd.Timestamp


class PipeDistances:
    """BattLeDIM pipe-to-pipe distances (m) on a network's pipe-only graph, all pairs, computed once."""

    def __init__(self, network: Network) -> None:
        pipes = network.links[network.links["type"] == "Pipe"]
        self.pipes: list[str] = list(pipes.index)
        self._pipe_pos = {p: i for i, p in enumerate(self.pipes)}
        nodes = list(network.nodes.index)
        pos = {n: i for i, n in enumerate(nodes)}
        a = pipes["start_node"].map(pos).to_numpy()
        b = pipes["end_node"].map(pos).to_numpy()
        # scipy keeps the smallest weight of parallel edges only via min(); 1e-9 keeps 0-length pipes
        length = np.maximum(pipes["length_m"].to_numpy(dtype=float), 1e-9)
        edges = pd.DataFrame({"a": np.r_[a, b], "b": np.r_[b, a], "w": np.r_[length, length]})
        edges = edges.groupby(["a", "b"], as_index=False)["w"].min()
        n = len(nodes)
        graph = coo_matrix((edges["w"], (edges["a"], edges["b"])), shape=(n, n)).tocsr()
        node_d = dijkstra(graph, directed=False)
        half = length / 2.0
        ends = np.stack([a, b], axis=1)
        # min over the four end-node pairs, then add half of each pipe
        best = np.full((len(a), len(a)), np.inf)
        for i in range(2):
            for j in range(2):
                best = np.minimum(best, node_d[np.ix_(ends[:, i], ends[:, j])])
        self.matrix = best + half[:, None] + half[None, :]
        np.fill_diagonal(self.matrix, 0.0)
        self.length_m = pd.Series(pipes["length_m"].to_numpy(dtype=float), index=self.pipes)

    def __contains__(self, pipe: object) -> bool:
        return pipe in self._pipe_pos

    def index(self, pipe: str) -> int:
        try:
            return self._pipe_pos[pipe]
        except KeyError:
            raise InputError(f"unknown pipe '{pipe}'", field="linkID") from None

    def between(self, a: str, b: str) -> float:
        """Distance (m) between two pipes; ``inf`` when no pipe path joins them."""
        return float(self.matrix[self.index(a), self.index(b)])

    def from_pipe(self, pipe: str) -> pd.Series:
        """Distances (m) from one pipe to every pipe."""
        return pd.Series(self.matrix[self.index(pipe)], index=self.pipes)


# --- results file ----------------------------------------------------------------------------
def read_results(path: str | Path, network: Network | None = None) -> list[Detection]:
    """Read a BattLeDIM results file (``# linkID, startTime`` then ``p257, 2019-01-15 23:00`` lines)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read results file: {exc.strerror}", file=p) from None
    known = set(network.links.index) if network is not None else None
    out: list[Detection] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [s.strip() for s in line.split(",")]
        if len(parts) != 2 or not parts[0]:
            raise InputError("expected 'linkID, YYYY-MM-DD hh:mm'", file=p, line=lineno)
        pipe, when = parts
        if known is not None and pipe not in known:
            raise InputError(f"unknown link '{pipe}'", file=p, line=lineno, field="linkID")
        try:
            ts = pd.Timestamp(when)
        except (ValueError, TypeError):
            ts = pd.NaT
        if pd.isna(ts):
            raise InputError(
                f"expected a time like 2019-01-15 23:00, got '{when}'",
                file=p,
                line=lineno,
                field="startTime",
            )
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        out.append(Detection(pipe, ts))
    return out


def write_results(path: str | Path, detections: Iterable[Detection]) -> Path:
    """Write detections in the BattLeDIM results template, in time order."""
    p = Path(path)
    lines = [RESULTS_HEADER]
    for d in sorted(detections, key=lambda d: d.time):
        lines.append(f"{d.pipe}, {d.time.tz_convert('UTC').strftime('%Y-%m-%d %H:%M')}")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


# --- scoring ---------------------------------------------------------------------------------
@dataclass
class Score:
    """Counts and figures of one scoring rule; delays in hours, distances in m, value in €."""

    rule: str
    leaks: int
    tp: int
    fp: int
    fn: int
    repeats: int
    precision: float | None
    recall: float | None
    f1: float | None
    delay_h_median: float | None = None
    delay_h_median_abrupt: float | None = None
    delay_h_median_incipient: float | None = None
    distance_m_median: float | None = None
    value_eur: float | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    if precision is None or recall is None:
        return precision, recall, None
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def _check_truth(truth: pd.DataFrame, dist: PipeDistances) -> None:
    for i, pipe in enumerate(truth["linkID"].astype(str)):
        if pipe not in dist:
            raise InputError(f"unknown leak pipe '{pipe}'", line=i + 2, field="linkID")


def _match(
    truth: pd.DataFrame,
    detections: Sequence[Detection],
    dist: PipeDistances,
    *,
    late: pd.Timedelta | None,
    rule: str,
    leak_flows: pd.DataFrame | None = None,
) -> Score:
    """Greedy matching in time order: a TP is credited to the closest undetected leak it hits."""
    _check_truth(truth, dist)
    for d in detections:
        dist.index(d.pipe)
    leaks = truth.reset_index(drop=True)
    pipes = leaks["linkID"].astype(str).tolist()
    detected: set[int] = set()
    tp = fp = repeats = 0
    value = 0.0
    matches: list[dict[str, Any]] = []
    for d in sorted(detections, key=lambda d: d.time):
        td = d.time.round(_STEP)
        active, hits = [], []
        for k, row in leaks.iterrows():
            x = dist.between(d.pipe, pipes[int(k)])
            if x > MAX_DISTANCE_M or not row["start"] <= td <= row["end"]:
                continue
            active.append((x, int(k)))
            if late is None or td <= row["peak"] + late:
                hits.append((x, int(k)))
        fresh = sorted(h for h in hits if h[1] not in detected)
        if fresh:
            x, k = fresh[0]
            detected.add(k)
            tp += 1
            row = leaks.loc[k]
            delay = (td - row["start"]).total_seconds() / 3600.0
            eur = None
            if leak_flows is not None and pipes[k] in leak_flows.columns:
                q = leak_flows[pipes[k]]
                after = q[q.index >= td - _STEP].to_numpy(dtype=float) * 3600.0  # m³/h at 5 min
                eur = (
                    COST_WATER_EUR_M3 * float(np.nansum(after)) / 12.0
                    - COST_CREW_EUR * x / MAX_DISTANCE_M
                )
                value += eur
            matches.append(
                {
                    "leak": pipes[k],
                    "kind": str(row.get("kind", "")),
                    "detected_pipe": d.pipe,
                    "time": td.strftime("%Y-%m-%d %H:%M"),
                    "delay_h": delay,
                    "distance_m": x,
                    "value_eur": eur,
                }
            )
        elif active and any(k in detected for _, k in active):
            repeats += 1  # a known leak reported again: neither a hit nor a false alarm
        else:
            fp += 1
            value -= COST_CREW_EUR
    n = len(leaks)
    precision, recall, f1 = _prf(tp, fp, n - tp)

    def delays(kind: str | None) -> list[float]:
        return [m["delay_h"] for m in matches if kind is None or m["kind"] == kind]

    return Score(
        rule=rule,
        leaks=n,
        tp=tp,
        fp=fp,
        fn=n - tp,
        repeats=repeats,
        precision=precision,
        recall=recall,
        f1=f1,
        delay_h_median=_median(delays(None)),
        delay_h_median_abrupt=_median(delays("abrupt")),
        delay_h_median_incipient=_median(delays("incipient")),
        distance_m_median=_median([m["distance_m"] for m in matches]),
        value_eur=value if leak_flows is not None else None,
        matches=matches,
    )


def score_battledim(
    truth: pd.DataFrame,
    detections: Sequence[Detection],
    dist: PipeDistances,
    *,
    leak_flows: pd.DataFrame | None = None,
    period_start: pd.Timestamp | None = None,
) -> Score:
    """The official BattLeDIM rules (no delay bound); € value when ``leak_flows`` (m³/s) is given.

    Detections before ``period_start`` are dropped, as the official script drops 2018 detections.
    """
    kept = [d for d in detections if period_start is None or d.time >= period_start]
    return _match(truth, kept, dist, late=None, rule="battledim", leak_flows=leak_flows)


def score_operational(
    truth: pd.DataFrame, detections: Sequence[Detection], dist: PipeDistances
) -> Score:
    """The stricter view: within 300 m, while active and at most 7 days after full size."""
    return _match(truth, detections, dist, late=MAX_LATE, rule="operational")


def score(
    truth: pd.DataFrame,
    detections: Sequence[Detection],
    dist: PipeDistances,
    *,
    leak_flows: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Both views as one JSON-ready mapping."""
    return {
        "detections": len(detections),
        "operational": score_operational(truth, detections, dist).to_dict(),
        "battledim": score_battledim(truth, detections, dist, leak_flows=leak_flows).to_dict(),
    }


def summarise(scores: Iterable[Score]) -> dict[str, Any]:
    """Pool scores of many scenarios: summed counts, medians over all matched leaks."""
    items = list(scores)
    tp = sum(s.tp for s in items)
    fp = sum(s.fp for s in items)
    fn = sum(s.fn for s in items)
    matches = [m for s in items for m in s.matches]
    precision, recall, f1 = _prf(tp, fp, fn)

    def med(key: str, kind: str | None = None) -> float | None:
        return _median([m[key] for m in matches if kind is None or m["kind"] == kind])

    return {
        "scenarios": len(items),
        "leaks": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "repeats": sum(s.repeats for s in items),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "delay_h_median": med("delay_h"),
        "delay_h_median_abrupt": med("delay_h", "abrupt"),
        "delay_h_median_incipient": med("delay_h", "incipient"),
        "distance_m_median": med("distance_m"),
    }
