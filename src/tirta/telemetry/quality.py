"""Data quality: flag stuck values, spikes, drift against correlated neighbours and gaps in readings.

Pure functions over a wide frame (UTC time index × sensor columns, SI values) that return a flags
frame: one row per flagged span with ``sensor``, ``start`` and ``end`` (first and last flagged step,
inclusive, UTC), ``kind`` (one of :data:`FLAG_KINDS`) and a human ``detail``.
"""

from __future__ import annotations

import warnings
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
    "spikes",
    "stuck",
]

FLAG_COLUMNS = ("sensor", "start", "end", "kind", "detail")
FLAG_KINDS = ("stuck", "spike", "drift", "gap")
_MAD = 1.4826  # MAD × this estimates the standard deviation of normal noise


def empty_flags() -> pd.DataFrame:
    """A flags frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "sensor": pd.Series([], dtype=object),
            "start": pd.Series([], dtype="datetime64[us, UTC]"),
            "end": pd.Series([], dtype="datetime64[us, UTC]"),
            "kind": pd.Series([], dtype=object),
            "detail": pd.Series([], dtype=object),
        }
    )


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    if not rows:
        return empty_flags()
    out = pd.DataFrame(rows, columns=list(FLAG_COLUMNS))
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions of each run of True in a boolean array."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _step(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The usual time step of an index (median spacing), None with fewer than two times."""
    if len(index) < 2:
        return None
    return pd.Timedelta(pd.Series(index).diff().median())


def _flag(sensor: object, start: object, end: object, kind: str, detail: str) -> dict[str, object]:
    """One row of a flags frame."""
    return {"sensor": sensor, "start": start, "end": end, "kind": kind, "detail": detail}


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
        for i0, i1 in _runs(same):
            first, last = i0, i1 + 1
            if last - first + 1 < steps or (zero_ok and values[first] == 0.0):
                continue
            rows.append(
                _flag(
                    sensor,
                    series.index[first],
                    series.index[last],
                    "stuck",
                    f"constant {values[first]:.6g} over {last - first + 1} readings",
                )
            )
    return _frame(rows)


def spikes(
    wide: pd.DataFrame, *, window: int = 7, threshold: float = 8.0, floor: float = 1e-9
) -> pd.DataFrame:
    """Isolated wild values: Hampel filter whose scale is the robust spread of first differences.

    A reading is a spike when it is further than ``threshold`` × σ from the median of the ``window``
    readings centred on it; σ = 1.4826 × MAD of the sensor's non-zero first differences / √2 (the
    noise of one reading), at least ``floor`` (SI).
    """
    rows: list[dict[str, object]] = []
    for sensor in wide.columns:
        series = wide[sensor].dropna()
        if len(series) < window:
            continue
        values = series.to_numpy(dtype=float)
        diff = np.diff(values)
        diff = diff[diff != 0.0]  # exact repeats (a stopped pump reading zero) say nothing of noise
        if len(diff) < window:
            continue
        sigma = max(_MAD * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2), floor)
        median = series.rolling(window, center=True, min_periods=window // 2 + 1).median().to_numpy()
        z = np.abs(values - median) / sigma
        for i0, i1 in _runs(z > threshold):
            peak = i0 + int(np.argmax(z[i0 : i1 + 1]))
            rows.append(
                _flag(
                    sensor,
                    series.index[i0],
                    series.index[i1],
                    "spike",
                    f"{values[peak] - median[peak]:+.6g} from the local median ({z[peak]:.0f} σ)",
                )
            )
    return _frame(rows)


def gaps(
    wide: pd.DataFrame, *, step: pd.Timedelta | str | None = None, min_steps: int = 1
) -> pd.DataFrame:
    """Runs of ``min_steps`` or more missing readings on the regular grid of ``step`` (default: the
    median spacing of the index) between the first and last time of the frame."""
    if wide.empty:
        return empty_flags()
    width = pd.Timedelta(step) if step is not None else _step(pd.DatetimeIndex(wide.index))
    if width is None:
        return empty_flags()
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq=width)
    full = wide.reindex(grid.union(pd.DatetimeIndex(wide.index)))
    rows: list[dict[str, object]] = []
    for sensor in full.columns:
        missing = full[sensor].isna().to_numpy()
        for i0, i1 in _runs(missing):
            n = i1 - i0 + 1
            if n < min_steps:
                continue
            rows.append(
                _flag(
                    sensor,
                    full.index[i0],
                    full.index[i1],
                    "gap",
                    f"{n} missing readings",
                )
            )
    return _frame(rows)


def _neighbour_prediction(
    train: pd.DataFrame, wide: pd.DataFrame, sensor: str, neighbours: int, min_corr: float
) -> tuple[pd.Series, pd.Series, list[str]] | None:
    """Median of one-neighbour linear predictions of ``sensor`` (train, wide) and the neighbours used."""
    corr = train.corrwith(train[sensor]).drop(sensor).abs().dropna().sort_values(ascending=False)
    chosen = [str(c) for c in corr.index[:neighbours] if corr[c] >= min_corr]
    if not chosen:
        return None
    fit_train, fit_wide = [], []
    for other in chosen:
        both = train[[sensor, other]].dropna()
        slope, intercept = np.polyfit(both[other].to_numpy(), both[sensor].to_numpy(), 1)
        fit_train.append(intercept + slope * train[other].to_numpy())
        fit_wide.append(intercept + slope * wide[other].to_numpy())
    with warnings.catch_warnings():  # all-NaN columns (every neighbour missing) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        pred_train = np.nanmedian(np.vstack(fit_train), axis=0)
        pred_wide = np.nanmedian(np.vstack(fit_wide), axis=0)
    return pd.Series(pred_train, train.index), pd.Series(pred_wide, wide.index), chosen


def _cusum_spans(z: np.ndarray, k: float, h: float, window: int) -> list[tuple[int, int, float]]:
    """Two-sided CUSUM of standardised residuals ``z``: (first, last, peak signed sum) of each
    excursion past ``h``. An excursion runs from where its sum left zero to the last step where the
    running median of ``window`` residuals still exceeds ``k``, so the slow drain of the sum after the
    fault ends is not flagged."""
    spans: list[tuple[int, int, float]] = []
    for sign in (1.0, -1.0):
        signed = sign * z
        smooth = pd.Series(signed).rolling(window, center=True, min_periods=1).median().to_numpy()
        s, origin, last_up, peak = 0.0, -1, -1, 0.0
        for i, value in enumerate(signed):
            if np.isnan(value):
                continue
            step = value - k
            if s == 0.0 and step > 0:
                origin, last_up = i, i
            s = max(0.0, s + step)
            if smooth[i] > k:
                last_up = i
            peak = max(peak, s)
            if s == 0.0:
                if peak > h:
                    spans.append((origin, last_up, sign * peak))
                peak = 0.0
        if peak > h:
            spans.append((origin, last_up, sign * peak))
    return spans


def drift(
    wide: pd.DataFrame,
    train: pd.DataFrame,
    *,
    neighbours: int = 3,
    min_corr: float = 0.7,
    k: float = 2.0,
    h: float = 200.0,
    min_steps: int = 6,
    min_shift: float = 6.0,
    floor: float = 1e-9,
) -> pd.DataFrame:
    """Slow departures of a sensor from what its most correlated neighbours say.

    Over ``train`` each sensor is regressed on each of its ``neighbours`` most correlated sensors
    (|r| ≥ ``min_corr``); the median of those predictions is robust to one faulty neighbour. The
    residual, standardised by its robust spread over ``train`` (at least ``floor``, SI), feeds a
    two-sided CUSUM with allowance ``k`` and threshold ``h`` (both in σ); spans shorter than
    ``min_steps`` readings or whose median residual is under ``min_shift`` σ are dropped.
    """
    rows: list[dict[str, object]] = []
    for sensor in wide.columns:
        if sensor not in train.columns or train[sensor].count() < 10:
            continue
        got = _neighbour_prediction(train, wide, sensor, neighbours, min_corr)
        if got is None:
            continue
        pred_train, pred_wide, chosen = got
        resid_train = (train[sensor] - pred_train).dropna().to_numpy()
        if len(resid_train) < 10:
            continue
        centre = float(np.median(resid_train))
        sigma = max(_MAD * float(np.median(np.abs(resid_train - centre))), floor)
        resid = (wide[sensor] - pred_wide).to_numpy(dtype=float) - centre
        for i0, i1, peak in _cusum_spans(resid / sigma, k, h, min_steps):
            shift = float(np.nanmedian(resid[i0 : i1 + 1]))
            if i1 - i0 + 1 < min_steps or abs(shift) < min_shift * sigma:
                continue
            rows.append(
                _flag(
                    sensor,
                    wide.index[i0],
                    wide.index[i1],
                    "drift",
                    (
                        f"residual {shift:+.4g} against "
                        f"{', '.join(chosen)} (σ {sigma:.3g}, CUSUM {peak:+.0f})"
                    ),
                )
            )
    return _frame(rows)


def mask_flags(wide: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``wide`` with NaN over every flagged span (start and end inclusive)."""
    out = wide.copy()
    index = pd.DatetimeIndex(out.index)
    for row in flags.itertuples(index=False):
        if row.sensor in out.columns:
            out.loc[(index >= row.start) & (index <= row.end), row.sensor] = np.nan
    return out


def detect(
    wide: pd.DataFrame,
    *,
    train: pd.DataFrame | None = None,
    kinds: Iterable[str] = FLAG_KINDS,
    stuck_steps: int = 12,
) -> pd.DataFrame:
    """All flags of a wide frame, sorted by sensor and start.

    Drift is sought after masking the other flags, against a fit over ``train`` (default: the first
    third of ``wide``); faulty training readings are masked the same way.
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
        found.append(spikes(wide))
    if "gap" in kinds:
        found.append(gaps(wide))
    if "drift" in kinds and len(wide.columns) > 1:
        if train is None:
            train = wide.iloc[: max(len(wide) // 3, 1)]
        train_flags = [stuck(train, steps=stuck_steps), spikes(train)]
        clean_train = mask_flags(train, pd.concat(train_flags, ignore_index=True))
        clean_wide = mask_flags(wide, pd.concat([empty_flags(), *found], ignore_index=True))
        found.append(drift(clean_wide, clean_train))
    found = [f for f in found if not f.empty]
    if not found:
        return empty_flags()
    out = pd.concat(found, ignore_index=True)
    return out.sort_values(["sensor", "start", "kind"], ignore_index=True)
