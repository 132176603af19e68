"""Data quality: flag stuck values, spikes, drift against correlated neighbours and gaps in readings.

Pure functions over a wide frame (UTC time index × sensor columns, SI values) that return a flags
frame: one row per flagged span with ``sensor``, ``start`` and ``end`` (first and last flagged step,
inclusive, UTC), ``kind`` (one of :data:`FLAG_KINDS`) and a human ``detail``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from tirta.errors import InputError

__all__ = [
    "FLAG_COLUMNS",
    "FLAG_KINDS",
    "detect",
    "drift",
    "empty_flags",
    "gaps",
    "mask_flags",
    "operating_changes",
    "spikes",
    "stuck",
]

from tirta.telemetry.drift import drift
from tirta.telemetry.flagbase import (
    FLAG_COLUMNS,
    FLAG_KINDS,
    MAD,
    empty_flags,
    flag_row,
    flags_frame,
    median_step,
    runs,
)


def stuck(
    wide: pd.DataFrame, *, steps: int = 12, tol: float = 0.0, zero_ok: bool = True
) -> pd.DataFrame:
    """Spans where a sensor repeats the same value (within ``tol``, SI) for ``steps`` readings or more.

    Runs at exactly zero are not stuck when ``zero_ok``: a meter on a closed pipe or a stopped pump
    reads zero honestly.
    """
    rows: list[dict[str, object]] = []
    for sensor in wide.columns:
        series = wide[sensor].dropna()
        values = series.to_numpy(dtype=float)
        if len(values) < steps:
            continue
        same = np.abs(np.diff(values)) <= tol  # same[i]: reading i+1 repeats reading i
        for i0, i1 in runs(same):
            first, last = i0, i1 + 1
            if last - first + 1 < steps or (zero_ok and values[first] == 0.0):
                continue
            rows.append(
                flag_row(
                    sensor,
                    series.index[first],
                    series.index[last],
                    "stuck",
                    f"constant {values[first]:.6g} over {last - first + 1} readings",
                )
            )
    return flags_frame(rows)


def _noise(values: np.ndarray, floor: float) -> float | None:
    """The noise of one reading (SI): 1.4826 × MAD of the non-zero first differences / √2, at least
    ``floor``; None with too few differences to tell."""
    diff = np.diff(values[~np.isnan(values)])
    diff = diff[diff != 0.0]  # exact repeats (a stopped pump reading zero) say nothing of noise
    if len(diff) < 7:
        return None
    return max(MAD * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2), floor)


def _hampel(wide: pd.DataFrame, window: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per reading: distance from the median of the ``window`` readings centred on it, in units of
    the sensor's noise (NaN where missing), and that signed distance in SI."""
    z = np.full(wide.shape, np.nan)
    delta = np.full(wide.shape, np.nan)
    for j, sensor in enumerate(wide.columns):
        series = wide[sensor].dropna()
        values = series.to_numpy(dtype=float)
        sigma = _noise(values, floor) if len(values) >= window else None
        if sigma is None:
            continue
        median = series.rolling(window, center=True, min_periods=window // 2 + 1).median().to_numpy()
        rows = wide.index.get_indexer(series.index)
        delta[rows, j] = values - median
        z[rows, j] = np.abs(values - median) / sigma
    return z, delta


def _steps(wide: pd.DataFrame, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per reading, its first difference to the reading before (SI, NaN where either is missing), and
    the noise σ of each sensor (NaN when too few readings tell)."""
    values = wide.to_numpy(dtype=float)
    sigma = np.array([_noise(values[:, j], floor) or np.nan for j in range(values.shape[1])])
    diff = np.full(values.shape, np.nan)
    diff[1:] = values[1:] - values[:-1]
    return diff, sigma


def operating_changes(
    wide: pd.DataFrame,
    *,
    threshold: float = 6.0,
    shared: int = 3,
    reversal_window: int = 12,
    floor: float = 1e-9,
) -> np.ndarray:
    """Per time of ``wide``, whether the network changed its operating mode there: ``shared`` sensors
    or more step by more than ``threshold`` × their noise at once, or a sensor that rarely steps (a
    pump or valve flow switching) steps so, or a tank level turns from filling to draining or back
    (the sign of its slope over ``reversal_window`` readings flips, each side clear of the noise)."""
    out = np.zeros(len(wide), dtype=bool)
    if wide.empty:
        return out
    diff, sigma = _steps(wide, floor)
    big = np.nan_to_num(np.abs(diff) / sigma) > threshold
    out |= big.sum(axis=1) >= shared
    rare = big.mean(axis=0) < 0.02  # a switch, not a noisy sensor
    out |= big[:, rare].any(axis=1)
    w = reversal_window
    for j in range(wide.shape[1]):
        if np.isnan(sigma[j]):
            continue
        level = pd.Series(wide.iloc[:, j].to_numpy(dtype=float)).interpolate(limit_area="inside")
        slope = (level - level.shift(w)) / w  # mean step over the last w readings
        clear = np.abs(slope.to_numpy()) > 3 * sigma[j] / w
        sign = np.where(clear, np.sign(slope.to_numpy()), 0.0)
        before, after = sign[:-w], sign[w:]  # the w readings before t against the w after
        out[w : len(sign)] |= (before * after) < 0
    return out


def _near(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` widened by ``k`` positions either side."""
    out = mask.copy()
    for i in range(1, k + 1):
        out[i:] |= mask[:-i]
        out[:-i] |= mask[i:]
    return out


def spikes(
    wide: pd.DataFrame,
    *,
    window: int = 7,
    threshold: float = 8.0,
    floor: float = 1e-9,
    shared: int = 2,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Isolated wild values: Hampel filter whose scale is the robust spread of first differences.

    A reading is a spike when it is further than ``threshold`` × σ from the median of the ``window``
    readings centred on it; σ = 1.4826 × MAD of the sensor's non-zero first differences / √2 (the
    noise of one reading), at least ``floor`` (SI). The network's operating changes are not spikes:
    when ``shared`` other sensors or more stand out by half as much within one step (a pump or tank
    moves several sensors at once) the reading is dropped, and near an :func:`operating_changes` of
    ``wide`` or of ``context`` (other sensors, e.g. pump flows and tank levels) it stays a spike only
    when it jumps away from both its neighbours and back, by ``threshold`` × σ each way.
    """
    rows: list[dict[str, object]] = []
    if wide.empty:
        return flags_frame(rows)
    z, delta = _hampel(wide, window, floor)
    loud = np.nan_to_num(z) > threshold / 2
    near = _near(loud, 1).astype(np.int32)  # sensors standing out at t - 1, t or t + 1
    crowd = near.sum(axis=1)
    changes = operating_changes(wide, floor=floor)
    if context is not None and not context.empty:
        changes |= operating_changes(context.reindex(wide.index), floor=floor)
    mode = _near(changes, window // 2)
    diff, sigma = _steps(wide, floor)
    back = np.full(wide.shape, np.nan)
    back[:-1] = -diff[1:]  # x_t - x_{t+1}
    away = (np.sign(diff) == np.sign(back)) & (
        np.minimum(np.abs(diff), np.abs(back)) > threshold * sigma
    )
    for j, sensor in enumerate(wide.columns):
        over = np.nan_to_num(z[:, j]) > threshold
        if not over.any():
            continue
        over &= (crowd - near[:, j]) < shared
        over &= ~mode | away[:, j]
        for i0, i1 in runs(over):
            peak = i0 + int(np.nanargmax(z[i0 : i1 + 1, j]))
            rows.append(
                flag_row(
                    sensor,
                    wide.index[i0],
                    wide.index[i1],
                    "spike",
                    f"{delta[peak, j]:+.6g} from the local median ({z[peak, j]:.0f} σ)",
                )
            )
    return flags_frame(rows)


def gaps(
    wide: pd.DataFrame, *, step: pd.Timedelta | str | None = None, min_steps: int = 1
) -> pd.DataFrame:
    """Runs of ``min_steps`` or more missing readings on the regular grid of ``step`` (default: the
    median spacing of the index) between the first and last time of the frame."""
    if wide.empty:
        return empty_flags()
    width = pd.Timedelta(step) if step is not None else median_step(pd.DatetimeIndex(wide.index))
    if width is None:
        return empty_flags()
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq=width)
    full = wide.reindex(grid.union(pd.DatetimeIndex(wide.index)))
    rows: list[dict[str, object]] = []
    for sensor in full.columns:
        missing = full[sensor].isna().to_numpy()
        for i0, i1 in runs(missing):
            n = i1 - i0 + 1
            if n < min_steps:
                continue
            rows.append(
                flag_row(
                    sensor,
                    full.index[i0],
                    full.index[i1],
                    "gap",
                    f"{n} missing readings",
                )
            )
    return flags_frame(rows)


def mask_flags(wide: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``wide`` with NaN over every flagged span (start and end inclusive)."""
    out = wide.copy()
    index = pd.DatetimeIndex(out.index)
    for row in flags.itertuples(index=False):
        if row.sensor in out.columns:
            out.loc[(index >= row.start) & (index <= row.end), row.sensor] = np.nan
    return out


def _outside(flags: pd.DataFrame, spans: pd.DataFrame, slack: pd.Timedelta) -> pd.DataFrame:
    """The spike flags not inside a span of ``spans`` on the same sensor (or ``slack`` after it,
    where the drift's end is a step)."""
    if flags.empty or spans.empty:
        return flags
    keep = np.ones(len(flags), dtype=bool)
    for span in spans.itertuples(index=False):
        inside = (
            (flags["kind"] == "spike")
            & (flags["sensor"] == span.sensor)
            & (flags["start"] >= span.start)
            & (flags["end"] <= span.end + slack)
        )
        keep &= ~inside.to_numpy()
    return flags.loc[keep].reset_index(drop=True)


def detect(
    wide: pd.DataFrame,
    *,
    train: pd.DataFrame | None = None,
    kinds: Iterable[str] = FLAG_KINDS,
    stuck_steps: int = 12,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """All flags of a wide frame, sorted by sensor and start.

    ``context``, other sensors of the network over the same times (pump flows, tank levels), tells
    operating changes that are not spikes (see :func:`spikes`). Drift is sought after masking the
    other flags, against a fit over ``train`` (default: the first third of ``wide``); faulty training
    readings are masked the same way. A sensor drifting is one drift flag: the spikes its departure
    from its neighbours raised inside the drift span are dropped.
    """
    kinds = set(kinds)
    if unknown := kinds - set(FLAG_KINDS):
        raise InputError(
            f"unknown flag kind '{sorted(unknown)[0]}'; expected one of {FLAG_KINDS}", field="kinds"
        )
    found = []
    if "stuck" in kinds:
        found.append(stuck(wide, steps=stuck_steps))
    if "spike" in kinds:
        found.append(spikes(wide, context=context))
    if "gap" in kinds:
        found.append(gaps(wide))
    if "drift" in kinds and len(wide.columns) > 1:
        if train is None:
            train = wide.iloc[: max(len(wide) // 3, 1)]
        train_flags = [stuck(train, steps=stuck_steps), spikes(train)]
        clean_train = mask_flags(train, pd.concat(train_flags, ignore_index=True))
        clean_wide = mask_flags(wide, pd.concat([empty_flags(), *found], ignore_index=True))
        drifts = drift(clean_wide, clean_train)
        slack = 3 * (median_step(pd.DatetimeIndex(wide.index)) or pd.Timedelta(0))
        found = [_outside(f, drifts, slack) if "spike" in set(f["kind"]) else f for f in found]
        found.append(drifts)
    found = [f for f in found if not f.empty]
    if not found:
        return empty_flags()
    out = pd.concat(found, ignore_index=True)
    return out.sort_values(["sensor", "start", "kind"], ignore_index=True)
