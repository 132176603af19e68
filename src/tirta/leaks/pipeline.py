"""From SCADA telemetry to localised leaks: calibrate, detect, localise, drop repeats of known leaks.

``run`` works on frames (SI) and is what a live pipeline calls on stored windows; ``run_files``
reads a BattLeDIM folder or workbook, an optional calibration period and sensor list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tirta.errors import InputError, ModelError, SimulationError
from tirta.leaks.detect.base import Alarm
from tirta.leaks.detect.ensemble import Ensemble
from tirta.leaks.detect.model import ModelDetector
from tirta.leaks.detect.pressure import PressureModel
from tirta.leaks.evaluate import Detection, PipeDistances
from tirta.leaks.localize import (
    Executor,
    Localisation,
    Signatures,
    cached_signatures,
    localise,
)
from tirta.leaks.zones import zone_of_pipes
from tirta.network.model import Network
from tirta.network.sensors import load_sensors
from tirta.telemetry.battledim import ScadaData, read_battledim, read_truth

__all__ = [
    "Found",
    "PipelineConfig",
    "aligned",
    "localise_alarms",
    "mask_stuck",
    "prepare",
    "run",
    "run_files",
]


@dataclass(frozen=True)
class PipelineConfig:
    """Windows (h) for the before/after pressure change, the localisation noise and repeat rule."""

    before_h: float = 24.0
    after_h: float = 24.0
    noise_scale: float = 0.3  # localisation noise, in units of the hourly residual σ
    repeat_m: float = 300.0  # an alarm localised this close to an open leak is that leak again
    calibration_days: float = 7.0  # without a calibration period: the first days of the data
    midpoint_signatures: bool = False  # leak signatures at pipe midpoints, not end-node means
    # an alarm the pressure sensors did not confirm, localised no better than ``repeat_m``,
    # repeats a leak found before in its zone (shared dev scenarios, tuning half: F1 0.74 -> 0.80;
    # held-out half 0.52 -> 0.55); a sharp localisation stands on its own (own seeds 1-20:
    # F1 0.77 -> 0.83, shared dev unchanged at 0.83)
    flow_only_repeats: bool = True
    # the hydraulic model's residuals (measured minus the model driven by the meters) stacked
    # with the regression residuals in the fit: two views of one leak with different errors
    # (shared dev scenarios, tuning half: F1 0.80 -> 0.83; held-out half 0.55 -> 0.73)
    model_residuals: bool = True
    # the pressure change is taken against the same baseline as the flow step: the window before
    # an alarm runs from the zone's last flow change (at most ``before_max_h`` back), the window
    # after stops at the zone's next repair (shared dev F1 0.78 -> 0.83, faulty sensors 0.69 ->
    # 0.82; own seeds 1-20 unchanged at 0.77)
    since_last_change: bool = True
    before_max_h: float = 168.0


@dataclass(frozen=True)
class Found:
    """A localised leak: the results-file line, the alarm behind it and its localisation."""

    detection: Detection
    alarm: Alarm
    localisation: Localisation | None

    @property
    def radius_m(self) -> float:
        return self.localisation.radius_m if self.localisation is not None else float("nan")


def prepare(data: ScadaData, network: Network, sensors: dict[str, list[str]] | None) -> ScadaData:
    """Keep the listed sensors (all columns without a list) and check their ids against the model."""
    nodes, links = set(network.nodes.index), set(network.links.index)
    keys = {
        "pressure": "pressure_sensors",
        "flow": "flow_sensors",
        "level": "level_sensors",
        "demand": "amrs",
    }
    frames = {}
    for kind, frame in data.items():
        cols = list(frame.columns)
        if sensors is not None:
            wanted = sensors.get(keys[kind], [])
            missing = [c for c in wanted if c not in cols]
            if missing and not frame.empty:
                raise InputError(
                    f"{kind} sensor '{missing[0]}' has no column in the data", field=keys[kind]
                )
            cols = [c for c in wanted if c in cols]
        known = links if kind == "flow" else nodes
        unknown = [c for c in cols if c not in known]
        if unknown:
            raise InputError(
                f"{kind} column '{unknown[0]}' is not a {'link' if kind == 'flow' else 'node'} of "
                f"{network.path.name}",
                field=unknown[0],
            )
        frames[kind] = frame[cols] if len(frame.columns) else frame
    return ScadaData(**frames)


def aligned(data: ScadaData) -> ScadaData:
    """Every kind on the data's UTC time index, also a kind without sensors (no columns, no rows):
    a network without tanks has no level readings, and detectors resample every frame."""
    index = data.index

    def fix(frame: pd.DataFrame) -> pd.DataFrame:
        if len(frame.columns) == 0 or not isinstance(frame.index, pd.DatetimeIndex):
            return pd.DataFrame(index=index, columns=frame.columns, dtype=float)
        return frame

    return ScadaData(*(fix(f) for _, f in data.items()))


def mask_stuck(frame: pd.DataFrame, samples: int = 24) -> pd.DataFrame:
    """NaN where a sensor repeats exactly the same value ``samples`` times or more (stuck, m)."""
    values = frame.to_numpy(dtype=float)
    out = values.copy()
    for j in range(values.shape[1]):
        col = values[:, j]
        same = np.r_[False, col[1:] == col[:-1]]
        run_id = np.cumsum(~same)
        counts = np.bincount(run_id)
        out[counts[run_id] >= samples, j] = np.nan
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def _leak_mask(index: pd.DatetimeIndex, truth: pd.DataFrame | None) -> np.ndarray | None:
    if truth is None or truth.empty:
        return None
    mask = np.zeros(len(index), dtype=bool)
    for _, row in truth.iterrows():
        mask |= (index >= row["start"]) & (index <= row["end"])
    return mask


def run(
    network: Network,
    data: ScadaData,
    train: ScadaData | None = None,
    *,
    train_truth: pd.DataFrame | None = None,
    config: PipelineConfig | None = None,
    ensemble: Ensemble | None = None,
    signatures: Signatures | None = None,
    distances: PipeDistances | None = None,
    executor: Executor | None = None,
) -> list[Found]:
    """Detect and localise new leaks in ``data`` after calibrating on ``train`` (SI frames)."""
    cfg = config or PipelineConfig()
    data = aligned(data)
    data = replace(data, pressure=mask_stuck(data.pressure))
    if train is None:
        cut = data.index[0] + pd.Timedelta(days=cfg.calibration_days)
        train = data.slice(None, cut)
    if len(train.index) < 288:
        raise InputError("the calibration period needs at least one day of data", field="train")
    train = aligned(train)
    train = replace(train, pressure=mask_stuck(train.pressure))
    exclude = _leak_mask(train.index, train_truth)
    ens = (ensemble or Ensemble()).fit(train, network, exclude=exclude)
    if exclude is not None and exclude[-1] and train_truth is not None:
        open_leaks = train_truth[train_truth["end"] >= train.index[-1]]
        latest = pd.Timestamp(open_leaks["start"].max()) if len(open_leaks) else None
        ens.set_reference(train, since=latest)  # known leaks still open: the new normal
    alarms = ens.detect(data)
    return localise_alarms(
        network, data, ens, alarms, config=cfg, signatures=signatures, distances=distances,
        executor=executor,
    )  # fmt: skip


def localise_alarms(
    network: Network,
    data: ScadaData,
    ens: Ensemble,
    alarms: list[Alarm],
    *,
    config: PipelineConfig | None = None,
    signatures: Signatures | None = None,
    distances: PipeDistances | None = None,
    executor: Executor | None = None,
) -> list[Found]:
    """Localise the alarms of a fitted ensemble on ``data`` and drop repeats of leaks found."""
    cfg = config or PipelineConfig()
    if not alarms:
        return []
    distances = distances or PipeDistances(network)
    pmodel = ens.pressure.model
    can_localise = pmodel.model is not None and len(pmodel.sensors) >= 3
    if can_localise and signatures is None:
        signatures = cached_signatures(
            network, pmodel.sensors, executor, midpoints=cfg.midpoint_signatures
        )
    presid = pmodel.residuals(data) if can_localise else None
    fresid = ens.flow.residuals(data) if ens.flow.zones else None
    zone_pipes: dict[str, list[str]] = {}
    for pipe, zone in zone_of_pipes([z.zone for z in ens.flow.zones]).items():
        zone_pipes.setdefault(zone, []).append(pipe)
    model = ens.model if cfg.model_residuals and ens.model is not None else None
    if model is not None and model.sigma is None:
        model = None  # the model detector could not be fitted: regression residuals alone
    found: list[Found] = []
    for i, alarm in enumerate(alarms):
        loc = None
        if presid is not None and signatures is not None:
            later = [b.start for b in alarms[i + 1 :] if b.zone == alarm.zone]
            previous = None
            if cfg.since_last_change:
                later += [t for z, t in ens.flow.falls if z == alarm.zone and t > alarm.start]
                earlier = [t for z, t in ens.flow.changes if z == alarm.zone and t < alarm.start]
                previous = max(earlier, default=None)
            loc = _localise_alarm(
                alarm, later, presid, fresid, pmodel, signatures, distances, zone_pipes, cfg,
                model=model, data=data, previous_change=previous,
            )  # fmt: skip
        if _repeat_of(loc, alarm, found, distances, cfg) is not None:
            continue
        pipe = loc.pipe if loc is not None else _fallback_pipe(alarm, zone_pipes, network)
        found.append(Found(Detection(pipe, alarm.start), alarm, loc))
    return found


def _window_mean(frame: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> np.ndarray:
    """Column means over ``t0 <= t < t1`` (NaN when the window is empty)."""
    part = frame[(frame.index >= t0) & (frame.index < t1)]
    return np.asarray(part.mean(axis=0)) if len(part) else np.full(frame.shape[1], np.nan)


def _windows(
    alarm: Alarm,
    later_starts: list[pd.Timestamp],
    previous_change: pd.Timestamp | None,
    cfg: PipelineConfig,
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """The windows ``[tb, t0)`` before and ``[ta, t1)`` after an alarm that its change is taken over.

    Before: ``before_h`` hours, or from the zone's last flow change (at most ``before_max_h`` back)
    when one is given. After: ``after_h`` hours from the end of the rise, cut at the next of
    ``later_starts`` (from the start when that leaves less than an hour).
    """
    hour = pd.Timedelta(hours=1)
    t0 = alarm.start
    ta = alarm.settled_at if alarm.settled_at is not None else alarm.start
    t1 = ta + pd.Timedelta(hours=cfg.after_h)
    if later_starts:
        t1 = min(t1, min(later_starts))
    tb = t0 - pd.Timedelta(hours=cfg.before_h)
    if previous_change is not None:
        since = max(previous_change, t0 - pd.Timedelta(hours=cfg.before_max_h))
        if t0 - since >= hour:
            tb = since
    if t1 - ta < hour:
        ta = t0
    return tb, t0, ta, t1


def _localise_alarm(
    alarm: Alarm,
    later_starts: list[pd.Timestamp],
    presid: pd.DataFrame,
    fresid: pd.DataFrame | None,
    pmodel: PressureModel,
    signatures: Signatures,
    distances: PipeDistances,
    zone_pipes: dict[str, list[str]],
    cfg: PipelineConfig,
    *,
    model: ModelDetector | None = None,
    data: ScadaData | None = None,
    previous_change: pd.Timestamp | None = None,
) -> Localisation | None:
    """Localise one alarm from the pressure change between a window before and one after it;
    with a fitted ``model``, its residual change over the same windows is fitted alongside.

    With ``previous_change`` (the zone's last flow change), the window before runs from there: the
    flow CUSUM measured the step against that level, and a slow leak's growth spans it."""
    assert pmodel.sigma_h is not None
    tb, t0, ta, t1 = _windows(alarm, later_starts, previous_change, cfg)
    change = _window_mean(presid, ta, t1) - _window_mean(presid, tb, t0)
    if not np.isfinite(change).any():
        return None
    size = None
    if fresid is not None and alarm.zone in fresid.columns:
        q = fresid[[alarm.zone]]
        size = float(_window_mean(q, ta, t1)[0] - _window_mean(q, tb, t0)[0])
    noise = cfg.noise_scale * float(np.median(pmodel.sigma_h))
    observed = pd.Series(change, index=presid.columns)
    nuisance = pmodel.nuisance
    if model is not None and data is not None:
        stacked = _stack_model_change(
            observed, signatures, nuisance, model, data, (tb, t0, ta, t1), pmodel.sigma_h
        )
        if stacked is not None:
            observed, signatures, nuisance = stacked
    return localise(
        observed,
        signatures,
        distances,
        pipes=zone_pipes.get(alarm.zone or ""),
        nuisance=nuisance,
        noise_m=noise,
        size_lps=size if size is not None and size > 0 else None,
    )


def _stack_model_change(
    change: pd.Series,
    signatures: Signatures,
    nuisance: np.ndarray | None,
    model: ModelDetector,
    data: ScadaData,
    windows: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, pd.Timestamp],
    sigma_h: np.ndarray,
) -> tuple[pd.Series, Signatures, np.ndarray] | None:
    """Regression and hydraulic-model residual changes side by side (``r:`` and ``m:`` columns).

    The model residual is rescaled to the regression's noise level, so both count alike; each
    block keeps its own offset and common modes as nuisance. ``None`` when the model has no
    finite change in the windows (e.g. a gap).
    """
    tb, t0, ta, t1 = windows
    assert model.sigma is not None
    span = data.slice(tb.floor("1h"), t1.ceil("1h") + pd.Timedelta(hours=1))
    if len(span.index) < 24:
        return None
    try:
        mres = model.residuals(span)
    except (SimulationError, ModelError, ValueError, np.linalg.LinAlgError):
        return None  # the model cannot be driven here: the regression residuals alone
    mchange = _window_mean(mres, ta, t1) - _window_mean(mres, tb, t0)
    if not np.isfinite(mchange).any():
        return None
    k = float(np.median(sigma_h)) / max(float(np.median(model.sigma)), 1e-6)
    sensors = list(change.index)
    mseries = pd.Series(k * mchange, index=mres.columns).reindex(sensors)
    observed = pd.Series(
        np.r_[change.to_numpy(), mseries.to_numpy()],
        index=[f"r:{s}" for s in sensors] + [f"m:{s}" for s in sensors],
    )
    cols = [signatures.sensors.index(s) for s in sensors]
    sig = signatures.matrix[:, cols]
    stacked = Signatures(signatures.pipes, list(observed.index), np.c_[sig, k * sig])
    n = np.zeros((len(sensors), 0)) if nuisance is None else nuisance
    z = np.zeros_like(n)
    block = np.r_[np.zeros(len(sensors)), np.ones(len(sensors))][:, None]  # the second offset
    basis = np.c_[block, np.r_[np.c_[n, z], np.c_[z, n]]]
    return observed, stacked, basis


def _repeat_of(
    loc: Localisation | None,
    alarm: Alarm,
    found: list[Found],
    distances: PipeDistances,
    cfg: PipelineConfig,
) -> int | None:
    """The leak already found in the alarm's zone that this alarm may be again (still growing).

    "May be": localised within ``repeat_m`` plus the new alarm's own uncertainty radius; with
    ``flow_only_repeats``, also an alarm the pressure sensors did not confirm (its localisation
    is mostly noise) in a zone with a leak found before.
    """
    same_zone = [k for k, f in enumerate(found) if f.alarm.zone == alarm.zone]
    if not same_zone:
        return None
    if loc is None:
        return None  # no pressure sensors to localise with: nothing tells two leaks apart
    reach = cfg.repeat_m + (loc.radius_m if math.isfinite(loc.radius_m) else 0.0)
    near = [(distances.between(loc.pipe, found[k].detection.pipe), k) for k in same_zone]
    x, k = min(near)
    if x <= reach:
        return k
    vague = not math.isfinite(loc.radius_m) or loc.radius_m > cfg.repeat_m
    if cfg.flow_only_repeats and "pressure" not in alarm.method and vague:
        return same_zone[-1]
    return None


def _fallback_pipe(alarm: Alarm, zone_pipes: dict[str, list[str]], network: Network) -> str:
    """Without pressure sensors: the longest pipe of the alarm's zone (a placeholder location)."""
    pipes = zone_pipes.get(alarm.zone or "") or list(
        network.links.index[network.links["type"] == "Pipe"]
    )
    return str(network.links.loc[pipes, "length_m"].idxmax())


def run_files(
    network: Network,
    scada: str | Path,
    *,
    train: str | Path | None = None,
    sensors: str | Path | None = None,
    executor: Executor | None = None,
    config: PipelineConfig | None = None,
) -> list[Found]:
    """Read SCADA (and calibration) data in the BattLeDIM layout and run :func:`run`."""
    spec = load_sensors(sensors, network).to_battledim() if sensors is not None else None
    data = prepare(read_battledim(scada), network, spec)
    calib = truth = None
    if train is not None:
        calib = prepare(read_battledim(train), network, spec)
        truth_path = Path(train) / "truth.csv"
        if truth_path.is_file():
            truth = read_truth(truth_path)
    return run(network, data, calib, train_truth=truth, config=config, executor=executor)
