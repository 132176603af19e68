"""95 % intervals: the §9.3 analytic result (±14.87 million m³, ILI 30.8–34.9) and the Monte-Carlo check."""

from __future__ import annotations

import math

import pytest

from tirta.balance import (
    BalanceInputs,
    SystemData,
    compute_balance,
    compute_kpis,
    ili_interval95,
    interval95,
    monte_carlo,
)


def test_jakarta_carl_and_ili_intervals(
    jakarta_inputs: BalanceInputs, jakarta_system: SystemData
) -> None:
    b = compute_balance(jakarta_inputs)
    k = compute_kpis(b, jakarta_system)
    rl = b.real_losses
    # water-balance.md §9.3: CARL 95 % CL ±14.87 million m³ (±6.3 %) → ILI 30.8–34.9
    assert round(rl.margin / 1e6, 2) == 14.87
    assert round(rl.margin_pct, 1) == 6.3
    low, high = k.real_losses_ci95
    assert high - rl.value == pytest.approx(rl.value - low)
    assert round((high - low) / 2e6, 2) == 14.87
    assert round(k.ili_ci95[0], 1) == 30.8
    assert round(k.ili_ci95[1], 1) == 34.9


def test_margin_is_root_sum_of_squares_by_hand(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs)
    # 95 % margins of the eight non-zero inputs, m³ (margin × value)
    margins = [12e6, 3.2e6, 0.4e6, 0.1e6, 2.25e6, 6e6, 0.3 * 320e6 * 0.05 / 0.95, 0.4e6]
    assert b.real_losses.margin == pytest.approx(math.sqrt(sum(m * m for m in margins)))
    assert b.non_revenue_water.margin == pytest.approx(math.hypot(12e6, 3.2e6, 0.4e6))
    assert b.apparent_losses.margin == pytest.approx(math.hypot(6e6, 0.3 * 320e6 * 0.05 / 0.95, 0.4e6))


def test_monte_carlo_agrees_with_analytic(
    jakarta_inputs: BalanceInputs, jakarta_system: SystemData
) -> None:
    b = compute_balance(jakarta_inputs)
    k = compute_kpis(b, jakarta_system)
    mc = monte_carlo(b, uarl=k.uarl_m3, n=200_000, seed=42)
    for name, comp in b.components().items():
        if name not in mc:
            continue
        assert mc[name].mean == pytest.approx(comp.value, rel=2e-3, abs=comp.margin * 0.02 + 1e-9), name
        assert mc[name].std == pytest.approx(comp.sigma, rel=0.01, abs=1e-9), name
    rl = mc["real_losses"]
    assert rl.margin == pytest.approx(b.real_losses.margin, rel=0.01)
    assert rl.low == pytest.approx(k.real_losses_ci95[0], rel=2e-3)
    assert rl.high == pytest.approx(k.real_losses_ci95[1], rel=2e-3)
    assert mc["ili"].low == pytest.approx(k.ili_ci95[0], rel=3e-3)
    assert mc["ili"].high == pytest.approx(k.ili_ci95[1], rel=3e-3)


def test_monte_carlo_is_seeded(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs)
    a = monte_carlo(b, n=10_000, seed=7)["real_losses"]
    assert a == monte_carlo(b, n=10_000, seed=7)["real_losses"]
    assert a != monte_carlo(b, n=10_000, seed=8)["real_losses"]


def test_ili_interval_with_uarl_margin_matches_monte_carlo(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs)
    uarl, uarl_margin = 7_207_675.0, 0.10 * 7_207_675.0
    low, high = ili_interval95(b.real_losses.value, b.real_losses.margin, uarl, uarl_margin)
    rel = math.hypot(b.real_losses.margin_pct / 100, 0.10)
    assert (high - low) / 2 == pytest.approx(b.real_losses.value / uarl * rel)
    mc = monte_carlo(b, uarl=uarl, uarl_margin=uarl_margin, n=200_000, seed=1)["ili"]
    # the ratio is skewed; its linearised margin still agrees with the sampled spread within 2 %
    assert mc.std * 1.96 == pytest.approx((high - low) / 2, rel=0.02)


def test_interval_helpers() -> None:
    assert interval95(10.0, 2.0) == (8.0, 12.0)
    assert ili_interval95(0.0, 5.0, 10.0) == (-0.5, 0.5)
    assert all(math.isnan(v) for v in ili_interval95(5.0, 1.0, 0.0))
