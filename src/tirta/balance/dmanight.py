"""Night-flow leakage of a metered zone from its inflow and pressure series (the store-fed MNF analysis).

Pure functions over the series :mod:`tirta.balance.zone` reads: per night the minimum night flow (MNF),
night leakage = MNF − legitimate night use, the night-day factor (NDF) from that day's hourly average zone
pressure (AZP), daily leakage, the rolling 7-day 20th percentile of MNF, a DMA ILI and FAVAD what-ifs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.balance.nightflow import (
    UK_HOUSEHOLD_NIGHT_USE_L_H,
    DmaLeakage,
    dma_leakage,
    legitimate_night_use,
    minimum_night_flow,
    night_day_factor,
    pressure_reduction_leakage,
    rolling_percentile,
)
from tirta.errors import InputError

__all__ = ["NightFlow", "NightFlowOptions", "WhatIf", "hourly_azp", "night_flow"]


@dataclass(frozen=True)
class NightFlowOptions:
    """Settings of the night-flow analysis (times of day in ``tz``)."""

    start: str = "02:00"  # night window
    end: str = "04:00"
    averaging: str = "1h"  # MNF is the lowest mean over this span inside the window
    household_l_per_property_h: float = UK_HOUSEHOLD_NIGHT_USE_L_H
    non_household_m3_h: float = 0.0
    n1: float = 1.0  # FAVAD leakage exponent for the NDF
    night_hour: int = 3  # hour whose AZP is the night reference of the NDF
    private_pipe_length_km: float = 0.0  # Lp of the UARL (0: meters at the property boundary)
    rolling_days: int = 7
    quantile: float = 0.2
    reductions_m: tuple[float, ...] = (5.0, 10.0)  # pressure-management what-ifs
    what_if_n1: tuple[float, ...] = (0.5, 1.0, 1.5)
    tz: str = "UTC"


@dataclass(frozen=True)
class WhatIf:
    """Daily leakage after lowering the average zone pressure by ``reduce_by_m`` m, for one N1."""

    reduce_by_m: float
    n1: float
    pressure_m: float
    leakage_m3_d: float
    saving_m3_d: float


@dataclass
class NightFlow:
    """Night-flow leakage of one zone over a period; flows in m³/h, daily volumes in m³/d."""

    nightly: pd.DataFrame  # index night: mnf_m3h, night_leakage_m3h, ndf_h, daily_leakage_m3d
    mnf_p20_m3h: pd.Series  # rolling percentile of MNF (empty when fewer nights than the window)
    lnu_m3h: float  # mean legitimate night use over the nights
    lnu_measured: bool  # from metered night consumption, not per-property figures
    azp_profile_m: list[float]  # mean AZP per hour of day 0…23
    summary: DmaLeakage  # from the mean MNF and the mean AZP profile
    mnf_m3h: float  # mean MNF over the nights
    what_ifs: list[WhatIf]
    options: NightFlowOptions
    warnings: list[str] = field(default_factory=list)

    @property
    def real_losses_m3(self) -> float:
        """Bottom-up real losses over the nights analysed: Σ daily leakage (m³)."""
        return float(self.nightly["daily_leakage_m3d"].sum())


def hourly_azp(pressure_m: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Average zone pressure (mean of the zone's sensors, m) as a day × hour-of-day table (local ``tz``)."""
    if pressure_m.empty:
        return pd.DataFrame(columns=range(24), dtype=float)
    azp = pressure_m.mean(axis=1, skipna=True).dropna()
    local = azp.index.tz_convert(tz)
    frame = pd.DataFrame({"azp": azp.to_numpy(), "day": local.normalize(), "hour": local.hour})
    table = frame.pivot_table(index="day", columns="hour", values="azp", aggfunc="mean")
    return table.reindex(columns=range(24))


def _use_at_minimum(flow: pd.Series, use: pd.Series, o: NightFlowOptions) -> pd.Series:
    """Per night, the metered use averaged over the same ``averaging`` span as that night's MNF."""
    mnf = minimum_night_flow(flow, o.start, o.end, o.averaging)
    step = flow.index.to_series().diff().median()
    n = max(1, round(pd.Timedelta(o.averaging) / step))
    fwd_flow = flow.rolling(n, min_periods=n).mean().shift(-(n - 1))
    fwd_use = use.rolling(n, min_periods=1).mean().shift(-(n - 1))
    out = {}
    for night, value in mnf.items():
        day = fwd_flow[(fwd_flow.index >= night) & (fwd_flow.index < night + pd.Timedelta(days=2))]
        hit = day.index[np.isclose(day.to_numpy(), value, rtol=0, atol=1e-12)]
        if len(hit):
            out[night] = float(fwd_use.get(hit[0], np.nan))
    return pd.Series(out, dtype=float)


def night_flow(
    inflow_m3s: pd.Series,
    pressure_m: pd.DataFrame | None,
    connections: float,
    mains_length_km: float,
    options: NightFlowOptions | None = None,
    *,
    average_pressure_m: float | None = None,
    night_use_m3s: pd.Series | None = None,
) -> NightFlow:
    """MNF analysis of a zone: inflow in m³/s, pressures in m (columns: the zone's pressure sensors).

    With ``night_use_m3s`` (the zone's metered consumption, e.g. AMR scaled to all connections) the
    household night use of each night is its mean over the night window, measured instead of assumed.
    Without pressure readings the NDF falls back to 24 h at ``average_pressure_m`` (with a warning).
    """
    o = options or NightFlowOptions()
    warnings: list[str] = []
    flow = (inflow_m3s.dropna() * 3600.0).tz_convert(o.tz)
    if flow.empty:
        raise InputError("no inflow readings in the period", field="from")
    mnf = minimum_night_flow(flow, o.start, o.end, o.averaging)
    if mnf.empty:
        raise InputError(
            f"no complete night window {o.start}–{o.end} in the period ({o.averaging} averages)",
            field="from",
        )
    lnu = legitimate_night_use(connections, o.household_l_per_property_h, o.non_household_m3_h)
    table = hourly_azp(pressure_m if pressure_m is not None else pd.DataFrame(), o.tz)
    complete = table.dropna()
    if not complete.empty:
        profile = complete.mean().to_numpy(dtype=float)
    elif not table.empty and table.notna().any().all():
        profile = table.mean().to_numpy(dtype=float)
    elif average_pressure_m is not None:
        profile = np.full(24, float(average_pressure_m))
        warnings.append(
            f"no pressure readings in the zone: NDF taken as 24 h at the DMA file's {average_pressure_m:g} m"
        )
    else:
        raise InputError(
            "no pressure sensor readings in the zone and no average_pressure_m in the DMA file: "
            "cannot compute the night-day factor or the UARL",
            field="average_pressure_m",
        )
    nights = pd.DatetimeIndex(mnf.index)
    per_day = complete.reindex(nights).to_numpy(dtype=float)
    ndf = []
    for row in per_day:
        azp = row if np.all(np.isfinite(row)) else profile  # that day's profile, else the mean one
        ndf.append(night_day_factor(azp, o.n1, o.night_hour))
    nightly = pd.DataFrame({"mnf_m3h": mnf.to_numpy()}, index=nights)
    nightly["lnu_m3h"] = lnu
    if night_use_m3s is not None and not night_use_m3s.dropna().empty:
        use = (night_use_m3s * 3600.0).tz_convert(o.tz).reindex(flow.index)
        measured = _use_at_minimum(flow, use, o) + o.non_household_m3_h
        nightly["lnu_m3h"] = measured.reindex(nights).fillna(lnu).to_numpy()
        lnu = float(nightly["lnu_m3h"].mean())
    nightly["night_leakage_m3h"] = nightly["mnf_m3h"] - nightly["lnu_m3h"]
    nightly["ndf_h"] = ndf
    nightly["daily_leakage_m3d"] = nightly["night_leakage_m3h"] * nightly["ndf_h"]
    if (nightly["night_leakage_m3h"] < 0).any():
        n = int((nightly["night_leakage_m3h"] < 0).sum())
        warnings.append(
            f"on {n} night(s) the minimum night flow is below the legitimate night use "
            f"(mean {lnu:.2f} m³/h): the night use is set too high, or meters disagree"
        )
    p20 = rolling_percentile(mnf, o.rolling_days, o.quantile)
    mean_mnf = float(mnf.mean())
    summary = dma_leakage(
        mean_mnf,
        lnu,
        profile,
        connections,
        mains_length_km,
        o.private_pipe_length_km,
        o.n1,
        o.night_hour,
    )
    what_ifs = []
    daily = summary.daily_leakage_m3_d
    p_mean = summary.average_zone_pressure_m
    for cut in o.reductions_m:
        if cut >= p_mean:
            warnings.append(f"what-if: cannot lower {p_mean:.1f} m by {cut:g} m")
            continue
        for n1 in o.what_if_n1:
            after = pressure_reduction_leakage(daily, p_mean, cut, n1)
            what_ifs.append(WhatIf(cut, n1, p_mean - cut, after, daily - after))
    if math.isfinite(summary.ili) and 0 < summary.ili < 1:
        warnings.append(
            f"DMA ILI {summary.ili:.2f} is below the technical minimum of 1: check the inputs"
        )
    measured_lnu = night_use_m3s is not None and not night_use_m3s.dropna().empty
    return NightFlow(
        nightly, p20, lnu, measured_lnu, profile.tolist(), summary, mean_mnf, what_ifs, o, warnings
    )
