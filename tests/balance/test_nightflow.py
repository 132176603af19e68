"""Night-flow leakage: water-balance.md §6.1 DMA example, §7 / reference-cases §1.6 FAVAD, MNF series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tirta.balance import (
    daily_leakage,
    dma_ili,
    dma_leakage,
    dma_uarl_m3_day,
    favad_leakage,
    legitimate_night_use,
    minimum_night_flow,
    n1_from_step_test,
    night_day_factor,
    night_leakage,
    pressure_reduction_leakage,
    rolling_minimum_night_flow,
    rolling_percentile,
)
from tirta.errors import InputError

# §6.1 hourly average zone pressure, m, 00 → 23 h
AZP = [35, 35, 35, 35, 35, 34, 31, 28, 27, 28, 29, 30, 30, 30, 30, 30, 29, 28, 27, 28, 30, 32, 34, 35]


def test_dma_example_6_1_step_by_step() -> None:
    lnu = legitimate_night_use(2000, 1.7, non_household_m3_h=1.0)
    assert round(lnu, 1) == 4.4
    nl = night_leakage(18.0, lnu)
    assert round(nl, 1) == 13.6
    assert round(night_day_factor(AZP, 1.0), 2) == 21.29
    assert round(night_day_factor(AZP, 0.5), 2) == 22.58
    assert round(night_day_factor(AZP, 1.5), 2) == 20.11
    daily = daily_leakage(nl, night_day_factor(AZP, 1.0))
    assert round(daily, 1) == 289.5
    assert round(1000 * daily / 2000, 1) == 144.7
    assert round(float(np.mean(AZP)), 2) == 31.04
    uarl = dma_uarl_m3_day(20.0, 2000, 2000 * 5 / 1000, float(np.mean(AZP)))
    assert round(uarl, 1) == 68.6
    assert round(dma_ili(daily, uarl), 2) == 4.22
    uarl0 = dma_uarl_m3_day(20.0, 2000, 0.0, float(np.mean(AZP)))
    assert round(uarl0, 2) == 60.84
    assert round(dma_ili(daily, uarl0), 2) == 4.76


def test_dma_example_6_1_in_one_call() -> None:
    r = dma_leakage(18.0, legitimate_night_use(2000, 1.7, 1.0), AZP, 2000, 20.0, 10.0)
    assert round(r.night_leakage_m3_h, 1) == 13.6
    assert round(r.ndf_h, 2) == 21.29
    assert round(r.daily_leakage_m3_d, 1) == 289.5
    assert round(r.daily_leakage_l_per_conn_d, 1) == 144.7
    assert round(r.average_zone_pressure_m, 2) == 31.04
    assert round(r.uarl_m3_d, 1) == 68.6
    assert round(r.ili, 2) == 4.22


def test_ndf_of_flat_pressure_is_24_hours_and_needs_24_values() -> None:
    assert night_day_factor([30.0] * 24, 1.3) == pytest.approx(24.0)
    with pytest.raises(InputError):
        night_day_factor(AZP[:23])


def test_favad_pressure_step_7() -> None:
    # 13.6 m³/h at 35 m, PRV to 28 m, N1 = 1.15 → 10.52 m³/h (±0.01)
    assert favad_leakage(13.6, 35.0, 28.0, 1.15) == pytest.approx(10.52, abs=0.01)
    assert pressure_reduction_leakage(13.6, 35.0, 7.0, 1.15) == pytest.approx(10.52, abs=0.01)
    assert n1_from_step_test(13.6, favad_leakage(13.6, 35.0, 28.0, 1.15), 35.0, 28.0) == pytest.approx(
        1.15
    )


@pytest.mark.parametrize(("n1", "cut_pct"), [(0.5, 5.1), (1.5, 14.6)])
def test_favad_i2o_check(n1: float, cut_pct: float) -> None:
    # reference-cases §1.6: AZP 30 → 27 m cuts leakage 5–15 %
    assert round(100 * (1 - favad_leakage(1.0, 30.0, 27.0, n1)), 1) == cut_pct


def test_favad_rejects_bad_pressures() -> None:
    with pytest.raises(InputError):
        favad_leakage(1.0, 0.0, 10.0)
    with pytest.raises(InputError):
        pressure_reduction_leakage(1.0, 10.0, 12.0)


def _diurnal(days: int, freq: str, night_low: dict[str, float], base: float = 40.0) -> pd.Series:
    index = pd.date_range(
        "2024-03-01", periods=days * int(pd.Timedelta("1D") / pd.Timedelta(freq)), freq=freq
    )
    flow = pd.Series(base, index=index, dtype=float)
    for hhmm, value in night_low.items():
        flow[flow.index.strftime("%H:%M") == hhmm] = value
    return flow


def test_mnf_hourly_data() -> None:
    flow = _diurnal(3, "1h", {"02:00": 20.0, "03:00": 18.0, "05:00": 10.0})
    mnf = minimum_night_flow(flow, "02:00", "04:00")
    assert list(mnf.index) == list(pd.date_range("2024-03-01", periods=3, freq="D"))
    assert mnf.tolist() == [18.0, 18.0, 18.0]  # 05:00 lies outside the window
    wide = minimum_night_flow(flow, "00:00", "06:00")
    assert wide.tolist() == [10.0, 10.0, 10.0]


def test_mnf_rolling_hour_on_15_minute_data() -> None:
    # the lowest whole hour starts at 02:30: mean of 02:30, 02:45, 03:00, 03:15
    low = {"02:30": 16.0, "02:45": 16.0, "03:00": 20.0, "03:15": 20.0, "03:30": 30.0}
    flow = _diurnal(2, "15min", low)
    mnf = minimum_night_flow(flow, "02:00", "04:00")
    assert mnf.tolist() == pytest.approx([18.0, 18.0])
    # a window that cannot hold a whole hour of the low samples only sees part of them
    narrow = minimum_night_flow(flow, "03:00", "04:00")
    assert narrow.tolist() == pytest.approx([(20 + 20 + 30 + 40) / 4] * 2)


def test_mnf_window_across_midnight_belongs_to_start_date() -> None:
    flow = _diurnal(3, "1h", {"01:00": 12.0})
    mnf = minimum_night_flow(flow, "23:00", "05:00")
    # night of 1 March covers 23:00 on 1 March to 05:00 on 2 March
    assert mnf.loc["2024-03-01"] == 12.0
    assert mnf.loc["2024-03-02"] == 12.0
    assert "2024-02-29" in mnf.index.strftime("%Y-%m-%d")  # 00:00–05:00 of 1 March belongs to 29 Feb


def test_mnf_gaps_skip_incomplete_hours() -> None:
    flow = _diurnal(2, "15min", {"03:00": 5.0})
    flow = flow.drop(pd.Timestamp("2024-03-01 03:15"))
    mnf = minimum_night_flow(flow, "03:00", "04:00")
    assert list(mnf.index.strftime("%Y-%m-%d")) == ["2024-03-02"]  # 1 March has no complete hour


def test_mnf_input_errors() -> None:
    flow = _diurnal(1, "15min", {})
    with pytest.raises(InputError):
        minimum_night_flow(flow, averaging="20min")
    with pytest.raises(InputError):
        minimum_night_flow(flow, start="3 am")
    with pytest.raises(InputError):
        minimum_night_flow(flow.reset_index(drop=True))


def test_rolling_20th_percentile_over_7_nights() -> None:
    values = [18.0, 25.0, 17.0, 30.0, 16.0, 19.0, 40.0, 15.0, 21.0]
    nightly = pd.Series(values, index=pd.date_range("2024-03-01", periods=9, freq="D"))
    p20 = rolling_percentile(nightly, 7, 0.2)
    assert len(p20) == 3
    for i, (day, value) in enumerate(p20.items()):
        assert day == nightly.index[i + 6]
        assert value == pytest.approx(np.quantile(values[i : i + 7], 0.2))
    # a missing night leaves every 7-night window that would contain it out
    gappy = nightly.drop(nightly.index[7])
    assert list(rolling_percentile(gappy, 7, 0.2).index) == [nightly.index[6]]


def test_rolling_minimum_night_flow_composes() -> None:
    index = pd.date_range("2024-03-01", periods=10 * 24, freq="1h")
    rng = np.random.default_rng(3)
    flow = pd.Series(40.0 + rng.uniform(0, 5, len(index)), index=index)
    nightly = minimum_night_flow(flow, "00:00", "06:00")
    expected = nightly.rolling(7).quantile(0.2).dropna()
    got = rolling_minimum_night_flow(flow)
    pd.testing.assert_series_equal(got, expected, check_names=False, check_freq=False)
