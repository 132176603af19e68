"""The leak pipeline on stored telemetry: calibrate, detect, localise, then open or update events.

:func:`run_live` reads a calibration window and the recent window from the store, runs
:func:`tirta.leaks.pipeline.run` and files each leak found as an event: a new one, an update of an
open event nearby (same zone or DMA, within ``repeat_m`` plus the localisation radius along the
network), or nothing when a repaired, closed or rejected event already explains it. Running it again
over the same data changes nothing. Repaired events whose residual is back to baseline for a few
hours after the repair get a proposal to close them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.leaks.detect.ensemble import Ensemble
from tirta.leaks.evaluate import PipeDistances
from tirta.leaks.events import (
    Event,
    list_events,
    open_event,
    propose_close,
    update_event,
)
from tirta.leaks.localize import Executor
from tirta.leaks.pipeline import Found, PipelineConfig, mask_stuck, prepare, run
from tirta.network.dma import DMA, node_to_dma
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData
from tirta.telemetry.schema import utc_time
from tirta.telemetry.store.base import Store

__all__ = ["CloseRule", "LiveResult", "NoReadings", "read_scada", "run_live"]

_KINDS = ("pressure", "flow", "level", "demand")


class NoReadings(InputError):
    """The store holds no readings in ``[start, end)``: nothing to detect, not a fault."""

    def __init__(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        super().__init__(
            f"no readings between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}", field="time"
        )
        self.start, self.end = start, end


SAME_START = pd.Timedelta(hours=2)  # alarms of one zone this close in start time are one leak


@dataclass(frozen=True)
class CloseRule:
    """When a repaired leak is gone: over the last ``window_h`` (at least ``hours_h``, none of it
    earlier than ``settle_h`` after the repair) the mean residual is within ``fraction`` of its level
    during the leak (and ``min_lps`` for flows), both taken against the ``before_h`` before the leak."""

    hours_h: float = 3.0
    window_h: float = 6.0
    settle_h: float = 1.0
    fraction: float = 0.25
    min_lps: float = 0.3
    before_h: float = 24.0


@dataclass
class LiveResult:
    """What one live run did: events opened, updated, proposed for closing, alarms already known."""

    start: pd.Timestamp
    end: pd.Timestamp
    found: list[Found] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    known: list[int] = field(default_factory=list)  # repaired, closed or false alarm: not reopened
    proposed: list[int] = field(default_factory=list)


def read_scada(store: Store, start: pd.Timestamp, end: pd.Timestamp) -> ScadaData:
    """The registered sensors' readings for ``start <= t < end`` as SI frames on a regular grid,
    columns named by the node or link each sensor sits on."""
    registry = store.sensors()
    sensors = [s for s in registry if s.kind in _KINDS]
    if not sensors:
        raise InputError(f"no pressure, flow, level or AMR sensors registered in {store.display_url}")
    wide = store.read([s.id for s in sensors], start, end)
    if len(wide.index) < 2:
        raise NoReadings(start, end)
    step = pd.Series(wide.index).diff().median()
    grid = pd.date_range(wide.index[0], wide.index[-1], freq=step, name="time")
    wide = wide.reindex(grid)
    frames = {}
    for kind in _KINDS:
        mine = [s for s in sensors if s.kind == kind]
        frame = wide[[s.id for s in mine]]
        frame.columns = pd.Index([s.element for s in mine])
        frames[kind] = frame
    return ScadaData(**frames)


def _area(pipe: str, zone: str | None, network: Network, owner: dict[str, str]) -> str | None:
    """The DMA of a pipe (by its end nodes) when DMAs are known, else the alarm's metered zone."""
    if owner and pipe in network.links.index:
        for node in network.links.loc[pipe, ["start_node", "end_node"]]:
            if node in owner:
                return owner[node]
    return zone


def _candidates(f: Found) -> list[dict[str, float | str | None]]:
    """Ranked candidate pipes, the chosen one first (score: posterior weight, size L/s)."""
    if f.localisation is None:
        return [{"pipe": f.detection.pipe, "score": None, "size_lps": f.alarm.size_lps}]
    loc = f.localisation
    rows: list[dict[str, float | str | None]] = [
        {"pipe": c.pipe, "score": round(c.score, 6), "size_lps": round(c.size_lps, 4)}
        for c in loc.candidates
    ]
    chosen: list[dict[str, float | str | None]] = [r for r in rows if r["pipe"] == loc.pipe] or [
        {"pipe": loc.pipe, "score": None, "size_lps": round(loc.size_lps, 4)}
    ]
    return chosen + [r for r in rows if r["pipe"] != loc.pipe]


def _step_time(event: Event, status: str) -> pd.Timestamp | None:
    rows = event.history[event.history["status"] == status]
    return None if rows.empty else pd.Timestamp(rows["at"].iloc[0])


def _match(
    f: Found, area: str | None, events: Sequence[Event], dist: PipeDistances, cfg: PipelineConfig
) -> tuple[Event | None, bool]:
    """The event a leak found belongs to (nearest first) and whether it is an active one to update.

    A repaired or closed event explains alarms that started before its repair; a false alarm
    explains alarms that started before it was rejected. Later alarms there are new leaks. An active
    event of the same zone whose change point is within ``SAME_START`` of the alarm's is the same
    leak, however far a later run (with more data) moved its localisation.
    """
    radius = f.radius_m if math.isfinite(f.radius_m) else 0.0
    near: list[tuple[float, Event]] = []
    for e in events:
        if e.kind != "leak":
            continue  # a customer's meter or service pipe: not a network leak to update
        same = e.dma == area or (e.zone is not None and e.zone == f.alarm.zone)
        if not same:
            continue
        if e.active and e.start is not None and abs(e.start - f.alarm.start) <= SAME_START:
            near.append((-1.0, e))  # the same change point: this leak, whatever the localisation
            continue
        if e.pipe is None or e.pipe not in dist or f.detection.pipe not in dist:
            continue
        reach = cfg.repeat_m + max(radius, e.radius_m or 0.0)
        d = dist.between(f.detection.pipe, e.pipe)
        if d <= reach:
            near.append((d, e))
    for _, e in sorted(near, key=lambda x: x[0]):
        if e.active:
            return e, True
        ended = e.repaired_at if e.status in ("repaired", "closed") else _step_time(e, "false_alarm")
        if ended is not None and f.alarm.start < ended:
            return e, False
    return None, False


def run_live(
    store: Store,
    network: Network,
    *,
    train: tuple[pd.Timestamp | str, pd.Timestamp | str],
    dmas: Sequence[DMA] | None = None,
    now: pd.Timestamp | str | None = None,
    since: pd.Timestamp | str | None = None,
    config: PipelineConfig | None = None,
    close_rule: CloseRule | None = None,
    executor: Executor | None = None,
) -> LiveResult:
    """Detect and localise leaks in ``[since, now)`` (``since`` defaults to the end of ``train``)
    after calibrating on the leak-free ``train`` window, and open or update events in ``store``."""
    cfg = config or PipelineConfig()
    t0, t1 = utc_time(train[0], "train_from"), utc_time(train[1], "train_to")
    end = utc_time(now, "now") if now is not None else pd.Timestamp.now(tz="UTC").floor("5min")
    begin = utc_time(since, "since") if since is not None else t1
    if t1 <= t0:
        raise InputError("the calibration window ends before it starts", field="train_to")
    if end <= begin:
        raise InputError(
            f"nothing to watch: the window ends ({end:%Y-%m-%d %H:%M}) before it starts "
            f"({begin:%Y-%m-%d %H:%M})",
            field="to",
        )
    calib = prepare(read_scada(store, t0, t1), network, None)
    data = prepare(read_scada(store, begin, end), network, None)
    ensemble = Ensemble()
    dist = PipeDistances(network)
    found = run(network, data, calib, config=cfg, ensemble=ensemble, distances=dist, executor=executor)
    result = LiveResult(data.index[0], data.index[-1], found)
    owner = node_to_dma(dmas) if dmas else {}
    for f in found:
        area = _area(f.detection.pipe, f.alarm.zone, network, owner)
        events = list_events(store)
        event, active = _match(f, area, events, dist, cfg)
        cands = _candidates(f)
        radius = round(f.radius_m, 1) if math.isfinite(f.radius_m) else None
        size = round(f.alarm.size_lps, 4)
        if event is None:
            eid = open_event(
                store,
                detected_at=f.alarm.detected_at,
                start=f.alarm.start,
                size_lps=size,
                candidates=cands,
                dma=area,
                zone=f.alarm.zone,
                radius_m=radius,
                extra={"method": f.alarm.method, "confidence": round(f.alarm.confidence, 3)},
            )
            result.opened.append(eid)
        elif not active:
            result.known.append(event.id)
        else:
            start = f.alarm.start if event.start is None else min(event.start, f.alarm.start)
            changed = update_event(
                store, event, at=max(f.alarm.detected_at, event.detected_at),
                size_lps=size, candidates=cands, radius_m=radius, start=start,
            )  # fmt: skip
            (result.updated if changed else result.unchanged).append(event.id)
    rule = close_rule or CloseRule()
    for event in list_events(store, "repaired"):
        if event.close_proposed is None and _propose(store, event, data, ensemble, end, rule):
            result.proposed.append(event.id)
    return result


def _propose(
    store: Store, event: Event, data: ScadaData, ens: Ensemble, now: pd.Timestamp, rule: CloseRule
) -> bool:
    """Propose closing a repaired event whose zone inflow (or pressure) residual is back to baseline."""
    if event.repaired_at is None or event.start is None:
        return False
    begin = max(
        event.repaired_at + pd.Timedelta(hours=rule.settle_h), now - pd.Timedelta(hours=rule.window_h)
    )
    if now - begin < pd.Timedelta(hours=rule.hours_h):
        return False
    before = (event.start - pd.Timedelta(hours=rule.before_h), event.start)
    during = (event.start, event.repaired_at)
    after = (begin, now)
    if event.zone is not None and event.zone in {z.zone.name for z in ens.flow.zones}:
        q = ens.flow.residuals(data)[event.zone]
        base = _mean(q, *before)
        base = 0.0 if not np.isfinite(base) else base  # the calibration is leak-free: mean 0
        leak = _mean(q, *during) - base
        if not np.isfinite(leak):
            leak = event.size_lps or 0.0
        left = _mean(q, *after) - base
        limit = max(rule.fraction * abs(leak), rule.min_lps)
        unit = "L/s of zone inflow"
    elif ens.pressure.model.model is not None:
        pm = ens.pressure.model
        p = pm.residuals(ScadaData(pressure=mask_stuck(data.pressure)))
        base_v = _vmean(p, *before)
        base_v = np.where(np.isfinite(base_v), base_v, 0.0)
        leak = _norm(pm.project(np.nan_to_num(_vmean(p, *during) - base_v)[None, :]))
        left = _norm(pm.project(np.nan_to_num(_vmean(p, *after) - base_v)[None, :]))
        limit = rule.fraction * leak
        unit = "m of pressure residual"
    else:
        return False
    if not (np.isfinite(left) and abs(left) <= limit):
        return False
    hours = (now - begin).total_seconds() / 3600.0
    reason = (
        f"residual back to baseline over the last {hours:.1f} h after the repair "
        f"({abs(left):.2f} vs {abs(leak):.2f} {unit} during the leak); propose closing"
    )
    facts = {"after": round(float(left), 4), "during": round(float(leak), 4), "hours": round(hours, 2)}
    return propose_close(store, event, at=now, reason=reason, **facts)


def _mean(series: pd.Series, t0: pd.Timestamp, t1: pd.Timestamp) -> float:
    part = series[(series.index >= t0) & (series.index < t1)]
    return float(np.nanmean(part)) if part.notna().any() else float("nan")


def _vmean(frame: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> np.ndarray:
    part = frame[(frame.index >= t0) & (frame.index < t1)]
    return np.asarray(part.mean(axis=0), dtype=float)


def _norm(rows: np.ndarray) -> float:
    v = np.asarray(rows, dtype=float).ravel()
    v = v[np.isfinite(v)]
    return float(np.sqrt(np.mean(v**2))) if len(v) else float("nan")
