"""Bottom-up leakage of a DMA from its minimum night flow (MNF), with FAVAD pressure what-ifs.

Pure functions over pandas/numpy: MNF per night (or the UKWIR rolling 7-day 20th percentile), legitimate
night use, night leakage, night-day factor from the hourly average zone pressure (AZP), daily leakage, DMA
UARL and ILI. Flows keep the unit they are given in unless a name says otherwise (m³/h, m³/d).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

import numpy as np
import pandas as pd

from tirta.balance.kpis import uarl_l_per_day
from tirta.errors import InputError

__all__ = [
    "UK_HOUSEHOLD_NIGHT_USE_L_H",
    "DmaLeakage",
    "daily_leakage",
    "dma_ili",
    "dma_leakage",
    "dma_uarl_m3_day",
    "favad_leakage",
    "legitimate_night_use",
    "minimum_night_flow",
    "n1_from_step_test",
    "night_day_factor",
    "night_leakage",
    "pressure_reduction_leakage",
    "rolling_minimum_night_flow",
    "rolling_percentile",
]

UK_HOUSEHOLD_NIGHT_USE_L_H = 1.7  # L/property/hour, UK default (unverified; confirm locally)
_DAY = pd.Timedelta(days=1)


def _time_of_day(text: str, field: str) -> pd.Timedelta:
    try:
        t = time.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"expected a time of day HH:MM, got {text!r}", field=field) from None
    return pd.Timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def _regular_step(flow: pd.Series) -> pd.Timedelta:
    if not isinstance(flow.index, pd.DatetimeIndex):
        raise InputError("flow series needs a DatetimeIndex", field="flow")
    if len(flow) < 1:
        raise InputError("flow series is empty", field="flow")
    if not flow.index.is_monotonic_increasing or flow.index.has_duplicates:
        raise InputError("flow series index must be increasing without duplicates", field="flow")
    if len(flow) == 1:
        return pd.Timedelta(hours=1)
    return pd.Timedelta(flow.index.to_series().diff().median())


def minimum_night_flow(
    flow: pd.Series, start: str = "02:00", end: str = "04:00", averaging: str = "1h"
) -> pd.Series:
    """Per night, the lowest mean over ``averaging`` (a whole hour by default) inside the window start–end.

    Samples are labelled by the start of their interval; the window may span midnight (e.g. 23:00–05:00).
    A night is the date the window starts; nights without one complete averaging period are left out.
    """
    step = _regular_step(flow)
    span = pd.Timedelta(averaging)
    n = span / step
    if n < 1 or not math.isclose(n, round(n)):
        raise InputError(
            f"averaging {averaging} is not a whole number of sampling steps ({step})", field="averaging"
        )
    n = round(n)
    begin = _time_of_day(start, "start")
    length = (_time_of_day(end, "end") - begin) % _DAY
    if length == pd.Timedelta(0):
        length = _DAY
    if span > length:
        raise InputError(
            f"averaging {averaging} is longer than the window {start}–{end}", field="averaging"
        )
    values = flow.astype(float)
    forward = values.rolling(n, min_periods=n).mean().shift(-(n - 1))
    index = flow.index
    last = pd.Series(index, index=index).shift(-(n - 1))
    contiguous = (last - pd.Series(index, index=index)) == (n - 1) * step
    delta = ((index - index.normalize()) - begin) % _DAY
    inside = np.asarray(delta + span <= length)
    keep = inside & contiguous.to_numpy() & forward.notna().to_numpy()
    nights = (index - delta).normalize()
    out = forward[keep].groupby(nights[keep]).min()
    out.index = pd.DatetimeIndex(out.index, name="night")
    out.name = "mnf"
    return out


def rolling_percentile(nightly: pd.Series, days: int = 7, quantile: float = 0.2) -> pd.Series:
    """Rolling ``quantile`` of a nightly series over ``days`` consecutive nights (all must be present)."""
    if not 0.0 <= quantile <= 1.0:
        raise InputError(f"quantile must be within 0–1, got {quantile}", field="quantile")
    if days < 1:
        raise InputError(f"days must be at least 1, got {days}", field="days")
    if nightly.empty:
        return nightly.astype(float)
    full = pd.date_range(nightly.index.min(), nightly.index.max(), freq="D", name=nightly.index.name)
    series = nightly.astype(float).reindex(full)
    return series.rolling(days, min_periods=days).quantile(quantile, interpolation="linear").dropna()


def rolling_minimum_night_flow(
    flow: pd.Series,
    start: str = "00:00",
    end: str = "06:00",
    averaging: str = "1h",
    days: int = 7,
    quantile: float = 0.2,
) -> pd.Series:
    """UKWIR variant: rolling 7-day 20th percentile of each night's minimum rolling hour."""
    return rolling_percentile(minimum_night_flow(flow, start, end, averaging), days, quantile)


def legitimate_night_use(
    properties: float,
    household_l_per_property_h: float = UK_HOUSEHOLD_NIGHT_USE_L_H,
    non_household_m3_h: float = 0.0,
    exceptional_m3_h: float = 0.0,
) -> float:
    """Legitimate night use, m³/h: household use × properties + non-household + metered exceptional users."""
    for name, v in (
        ("properties", properties),
        ("household_l_per_property_h", household_l_per_property_h),
        ("non_household_m3_h", non_household_m3_h),
        ("exceptional_m3_h", exceptional_m3_h),
    ):
        if v < 0:
            raise InputError(f"must not be negative, got {v}", field=name)
    return properties * household_l_per_property_h / 1000.0 + non_household_m3_h + exceptional_m3_h


def night_leakage(mnf: float | pd.Series, lnu: float) -> float | pd.Series:
    """Night leakage = MNF − legitimate night use (same flow unit)."""
    return mnf - lnu


def night_day_factor(azp: Sequence[float] | np.ndarray, n1: float = 1.0, night_hour: int = 3) -> float:
    """NDF in hours/day: Σ over 24 hours of (AZP_h / AZP_night)^N1, the night reference at ``night_hour``."""
    p = np.asarray(azp, dtype=float)
    if p.shape != (24,):
        raise InputError(f"expected 24 hourly pressures, got {p.size}", field="azp")
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise InputError("hourly pressures must be finite and not negative", field="azp")
    ref = p[night_hour]
    if ref <= 0:
        raise InputError(f"night pressure at hour {night_hour} must be above 0", field="azp")
    return float(np.sum((p / ref) ** n1))


def daily_leakage(night_leakage_m3_h: float, ndf_h: float) -> float:
    """Daily leakage, m³/d: night leakage (m³/h) × night-day factor (h/d)."""
    return night_leakage_m3_h * ndf_h


def dma_uarl_m3_day(
    mains_length_km: float, connections: float, private_pipe_length_km: float, pressure_m: float
) -> float:
    """UARL of a DMA in m³/day at its average zone pressure."""
    return uarl_l_per_day(mains_length_km, connections, private_pipe_length_km, pressure_m) / 1000.0


def dma_ili(daily_leakage_m3_d: float, uarl_m3_d: float) -> float:
    """DMA ILI: daily leakage over daily UARL."""
    return daily_leakage_m3_d / uarl_m3_d if uarl_m3_d > 0 else math.nan


def favad_leakage(leakage: float, p0_m: float, p1_m: float, n1: float = 1.0) -> float:
    """Leakage at pressure P1 from leakage at P0: L1 = L0 · (P1/P0)^N1 (same unit as ``leakage``)."""
    if p0_m <= 0 or p1_m < 0:
        raise InputError(f"pressures must be positive, got P0 = {p0_m}, P1 = {p1_m}", field="pressure")
    return leakage * (p1_m / p0_m) ** n1


def pressure_reduction_leakage(
    leakage: float, pressure_m: float, reduce_by_m: float, n1: float = 1.0
) -> float:
    """Leakage after lowering the pressure by ``reduce_by_m`` m (FAVAD power law)."""
    if reduce_by_m > pressure_m:
        raise InputError(f"cannot lower {pressure_m} m by {reduce_by_m} m", field="reduce_by_m")
    return favad_leakage(leakage, pressure_m, pressure_m - reduce_by_m, n1)


def n1_from_step_test(l0: float, l1: float, p0_m: float, p1_m: float) -> float:
    """N1 from a pressure step test: ln(L1/L0) / ln(P1/P0)."""
    if min(l0, l1, p0_m, p1_m) <= 0 or p0_m == p1_m:
        raise InputError("step test needs positive leakage and two different positive pressures")
    return math.log(l1 / l0) / math.log(p1_m / p0_m)


@dataclass(frozen=True)
class DmaLeakage:
    """Night-flow leakage assessment of one DMA."""

    night_leakage_m3_h: float
    ndf_h: float
    daily_leakage_m3_d: float
    daily_leakage_l_per_conn_d: float
    average_zone_pressure_m: float
    uarl_m3_d: float
    ili: float


def dma_leakage(
    mnf_m3_h: float,
    lnu_m3_h: float,
    azp: Sequence[float] | np.ndarray,
    connections: float,
    mains_length_km: float,
    private_pipe_length_km: float = 0.0,
    n1: float = 1.0,
    night_hour: int = 3,
) -> DmaLeakage:
    """MNF → night leakage → daily leakage (NDF) → UARL at the 24-hour mean AZP → ILI."""
    nl = float(night_leakage(mnf_m3_h, lnu_m3_h))
    ndf = night_day_factor(azp, n1, night_hour)
    daily = daily_leakage(nl, ndf)
    mean_azp = float(np.mean(np.asarray(azp, dtype=float)))
    uarl = dma_uarl_m3_day(mains_length_km, connections, private_pipe_length_km, mean_azp)
    return DmaLeakage(
        night_leakage_m3_h=nl,
        ndf_h=ndf,
        daily_leakage_m3_d=daily,
        daily_leakage_l_per_conn_d=1000.0 * daily / connections,
        average_zone_pressure_m=mean_azp,
        uarl_m3_d=uarl,
        ili=dma_ili(daily, uarl),
    )
