"""95 % intervals of balance results: analytic propagation and a seeded Monte-Carlo cross-check.

Analytic rules (independent errors): sums and differences add variances; ratios add relative variances;
σ = margin / 1.96. The Monte Carlo draws every input independently and recomputes the balance arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tirta.balance.waterbalance import INPUT_COMPONENTS, Z95, derive

if TYPE_CHECKING:
    from tirta.balance.waterbalance import WaterBalance

__all__ = ["MonteCarloSummary", "ili_interval95", "interval95", "monte_carlo"]


@dataclass(frozen=True)
class MonteCarloSummary:
    """Sampled distribution of one result: mean, standard deviation and the 2.5–97.5 % percentiles."""

    mean: float
    std: float
    low: float
    high: float

    @property
    def margin(self) -> float:
        """Half-width of the percentile interval (comparable to an analytic 95 % margin)."""
        return (self.high - self.low) / 2.0


def interval95(value: float, margin: float) -> tuple[float, float]:
    """The 95 % interval value ± margin."""
    return (value - margin, value + margin)


def ili_interval95(
    carl: float, carl_margin: float, uarl: float, uarl_margin: float = 0.0
) -> tuple[float, float]:
    """95 % interval of ILI = CARL/UARL: relative variances add; UARL exact when its margin is 0."""
    if uarl <= 0:
        return (math.nan, math.nan)
    value = carl / uarl
    # σ_ILI² = (σ_CARL/UARL)² + (ILI·σ_UARL/UARL)²: the relative-variance rule, also valid at CARL = 0
    margin = math.hypot(carl_margin / uarl, value * uarl_margin / uarl)
    return interval95(value, margin)


def monte_carlo(
    balance: WaterBalance,
    uarl: float | None = None,
    uarl_margin: float = 0.0,
    n: int = 200_000,
    seed: int = 0,
) -> dict[str, MonteCarloSummary]:
    """Sample each input ~ Normal(value, margin/1.96) (seeded) and summarise every derived volume and ILI.

    Percent-derived inputs are sampled on their own, as the analytic propagation treats them.
    """
    rng = np.random.default_rng(seed)
    comps = balance.inputs()
    leaves = {name: rng.normal(comps[name].value, comps[name].sigma, n) for name in INPUT_COMPONENTS}
    results = derive(leaves)
    if uarl is not None and uarl > 0:
        uarl_samples = rng.normal(uarl, uarl_margin / Z95, n) if uarl_margin > 0 else np.full(n, uarl)
        results["ili"] = results["real_losses"] / uarl_samples
    out: dict[str, MonteCarloSummary] = {}
    for name, samples in results.items():
        low, high = np.percentile(samples, [2.5, 97.5])
        out[name] = MonteCarloSummary(
            float(np.mean(samples)), float(np.std(samples, ddof=1)), float(low), float(high)
        )
    return out
