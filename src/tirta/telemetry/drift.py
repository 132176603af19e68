"""Drift: slow departures of a sensor from what its most correlated neighbours say.

Joint linear fits on the neighbours follow the network's operating modes; a two-sided CUSUM of the
standardised residual finds the spans; of drifts seen together, the one that explains the others
(masked, they vanish) is taken first. Pure functions over wide frames (UTC index × sensors, SI).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from tirta.telemetry.flagbase import MAD, flag_row, flags_frame, runs

__all__ = ["drift"]

Fit = tuple[list[str], np.ndarray, float, float]  # neighbours, coefficients, residual centre, σ


def _neighbour_fits(
    train: pd.DataFrame, sensor: str, neighbours: int, min_corr: float, floor: float
) -> tuple[list[Fit], list[str]]:
    """Linear fits of ``sensor`` over ``train`` on its most correlated neighbours, each with the
    centre and robust spread (σ, SI) of its residual, and the neighbours used. Joint fits follow the
    network's operating modes (one pump on moves each pressure by its own amount); with three
    neighbours or more, one fit leaves out each, so one faulty or missing neighbour leaves fits
    without it."""
    corr = train.corrwith(train[sensor]).drop(sensor).abs().dropna().sort_values(ascending=False)
    chosen = [str(c) for c in corr.index[:neighbours] if corr[c] >= min_corr]
    subsets = [chosen] if len(chosen) < 3 else [[c for c in chosen if c != o] for o in chosen]
    target = train[sensor].to_numpy(dtype=float)
    fits: list[Fit] = []
    for cols in subsets if chosen else []:
        x_train = train[cols].to_numpy(dtype=float)
        rows = ~np.isnan(target) & ~np.isnan(x_train).any(axis=1)
        if rows.sum() < max(10, 2 * (len(cols) + 1)):
            continue
        design = np.column_stack([np.ones(int(rows.sum())), x_train[rows]])
        coef, *_ = np.linalg.lstsq(design, target[rows], rcond=None)
        resid = target[rows] - design @ coef
        centre = float(np.median(resid))
        sigma = max(MAD * float(np.median(np.abs(resid - centre))), floor)
        fits.append((cols, coef, centre, sigma))
    return fits, chosen


def _cusum_spans(z: np.ndarray, k: float, h: float, window: int) -> list[tuple[int, int, float]]:
    """Two-sided CUSUM of standardised residuals ``z``: (first, last, peak signed sum) of each
    excursion past ``h``. An excursion runs from where its sum left zero to the last step, up to the
    sum's peak, where the running median of ``window`` residuals still exceeded ``k``: the fault ends
    where the sum stops growing, so the slow drain after it (and any wobble of the residual while
    the sum drains) is not flagged."""
    spans: list[tuple[int, int, float]] = []
    valid = ~np.isnan(z)
    for sign in (1.0, -1.0):
        signed = sign * z
        smooth = pd.Series(signed).rolling(window, center=True, min_periods=1).median().to_numpy()
        # s_t = max(0, s_(t-1) + z_t - k) in closed form: the running sum less its lowest point so
        # far (at most zero); a missing residual leaves the sum as it was
        total = np.cumsum(np.where(valid, signed - k, 0.0))
        s = total - np.minimum(0.0, np.minimum.accumulate(total))
        for i0, i1 in runs(s > 0):
            top = i0 + int(np.argmax(s[i0 : i1 + 1]))
            if s[top] <= h:
                continue
            up = np.flatnonzero((smooth[i0 : top + 1] > k) & valid[i0 : top + 1])
            spans.append((i0, i0 + (int(up[-1]) if len(up) else 0), sign * float(s[top])))
    return spans


def drift(
    wide: pd.DataFrame,
    train: pd.DataFrame,
    *,
    neighbours: int = 5,
    min_corr: float = 0.7,
    k: float = 2.0,
    h: float = 200.0,
    min_steps: int = 6,
    min_shift: float = 6.0,
    floor: float = 1e-9,
) -> pd.DataFrame:
    """Slow departures of a sensor from what its most correlated neighbours say.

    Over ``train`` each sensor is regressed on its ``neighbours`` most correlated sensors (|r| ≥
    ``min_corr``) jointly, robust to one faulty neighbour (see :func:`_neighbour_fits`). The
    residual, standardised by its robust spread over ``train`` (at least ``floor``, SI), feeds a
    two-sided CUSUM with allowance ``k`` and threshold ``h`` (both in σ); spans shorter than
    ``min_steps`` readings or whose median residual is under ``min_shift`` σ are dropped. The drift
    every set of neighbours agrees on most is taken first and masked before looking again, so a
    drifting sensor is not blamed on the neighbours it misleads.
    """
    rows: list[dict[str, object]] = []
    current = wide.copy()
    cache: dict[str, tuple[list[Fit], list[str]]] = {}
    Span = tuple[str, int, int, float, str]  # sensor, first, last, CUSUM peak, detail

    def spans_of(frame: pd.DataFrame, sensors: Iterable[str]) -> list[Span]:
        return [
            (sensor, *span)
            for sensor in sensors
            for span in _drift_spans(
                frame, train, sensor, neighbours, min_corr, k, h, min_steps, min_shift, floor, cache
            )
        ]

    def masked(frame: pd.DataFrame, span: Span) -> pd.DataFrame:
        out = frame.copy()
        out.iloc[span[1] : span[2] + 1, out.columns.get_loc(span[0])] = np.nan
        return out

    accepted: set[tuple[str, int]] = set()
    while True:
        found = [c for c in spans_of(current, wide.columns) if (c[0], c[1]) not in accepted]
        if not found:
            break

        def explains(
            span: Span, found: list[Span] = found, current: pd.DataFrame = current
        ) -> tuple[int, float]:
            """How many other drift spans at the same time vanish once ``span`` is masked (a faulty
            neighbour drags the sensors it predicts), then the strength of the drift itself."""
            others = [c for c in found if c[0] != span[0] and c[1] <= span[2] and c[2] >= span[1]]
            if not others:
                return 0, abs(span[3])
            left = {(c[0], c[1], c[2]) for c in spans_of(masked(current, span), {c[0] for c in others})}
            cleared = sum(
                not any(s == c[0] and a <= c[2] and b >= c[1] for s, a, b in left) for c in others
            )
            return cleared, abs(span[3])

        best = max(found, key=explains)
        accepted.add((best[0], best[1]))
        rows.append(flag_row(best[0], wide.index[best[1]], wide.index[best[2]], "drift", best[4]))
        current = masked(current, best)
    return flags_frame(rows)


def _drift_spans(
    wide: pd.DataFrame,
    train: pd.DataFrame,
    sensor: str,
    neighbours: int,
    min_corr: float,
    k: float,
    h: float,
    min_steps: int,
    min_shift: float,
    floor: float,
    cache: dict[str, tuple[list[Fit], list[str]]],
) -> list[tuple[int, int, float, str]]:
    """(first, last, CUSUM peak, detail) of each drift span of one sensor (see :func:`drift`);
    ``cache`` keeps each sensor's fits over ``train`` between calls."""
    if sensor not in train.columns or train[sensor].count() < 10:
        return []
    if sensor not in cache:
        cache[sensor] = _neighbour_fits(train, sensor, neighbours, min_corr, floor)
    fits, chosen = cache[sensor]
    if not fits:
        return []
    value = wide[sensor].to_numpy(dtype=float)
    resids = [
        value - (coef[0] + wide[cols].to_numpy(dtype=float) @ coef[1:]) - c for cols, coef, c, _ in fits
    ]
    zs = [r / fit[3] for r, fit in zip(resids, fits, strict=True)]  # each fit by its own spread
    sigmas = [fit[3] for fit in fits]
    with warnings.catch_warnings():  # all-NaN columns (every neighbour missing) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        z, resid = np.nanmedian(np.vstack(zs), axis=0), np.nanmedian(np.vstack(resids), axis=0)
    sigma = float(np.median(sigmas))
    out = []
    for i0, i1, peak in _cusum_spans(z, k, h, min_steps):
        shift = float(np.nanmedian(resid[i0 : i1 + 1]))
        if i1 - i0 + 1 < min_steps or abs(float(np.nanmedian(z[i0 : i1 + 1]))) < min_shift:
            continue
        detail = f"residual {shift:+.4g} against {', '.join(chosen)} (σ {sigma:.3g}, CUSUM {peak:+.0f})"
        out.append((i0, i1, peak, detail))
    return out
