"""Sanity checks of the headline indicators, KPI by KPI, so that every page showing one shows why it
cannot be trusted (and the public page withholds it).

A KPI is flagged when its inputs fail a check: NRW outside 0–100 % of the system input, negative real
losses, an ILI below the technical minimum of 1, or consumption extrapolated from too small a sample of
meters (the share of connections metered below ``min_sample_fraction`` of the audit defaults).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Final

from tirta.balance.standards import load_standard

__all__ = ["FLAGGED_KPIS", "kpi_warnings", "merge_warnings", "min_sample_fraction", "sample_warning"]

#: the indicators a check can flag, by the key they carry in balance reports
FLAGGED_KPIS: Final = ("nrw_pct", "real_losses", "real_losses_l_per_conn_day", "ili")
_LOSS_KPIS: Final = ("real_losses", "real_losses_l_per_conn_day", "ili")


def min_sample_fraction() -> float:
    """Smallest share of connections (0–1) whose meters may stand for all of them."""
    return float(load_standard("water_audit_defaults")["extrapolation"]["min_sample_fraction"])


def sample_warning(metered: int, connections: int, threshold: float | None = None) -> str | None:
    """A warning when ``metered`` meters are scaled up to ``connections`` from too small a share."""
    limit = min_sample_fraction() if threshold is None else threshold
    if connections <= 0 or metered >= connections:
        return None
    share = metered / connections
    if share >= limit:
        return None
    return (
        f"consumption extrapolated from {metered} meters to {connections} connections "
        f"({100 * share:.1f} % metered, below {100 * limit:g} %): no billing data"
    )


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def kpi_warnings(
    nrw_pct: float | None,
    real_losses_m3: float | None,
    ili: float | None,
    extra: Iterable[str | None] = (),
) -> dict[str, list[str]]:
    """The warnings of each flagged KPI (keys of :data:`FLAGGED_KPIS`; unflagged KPIs are absent).
    ``extra`` are warnings of the inputs (a small meter sample) that apply to every KPI."""
    out: dict[str, list[str]] = {}

    def add(keys: Iterable[str], text: str) -> None:
        for k in keys:
            out.setdefault(k, []).append(text)

    if _finite(nrw_pct) and not 0.0 <= float(nrw_pct) <= 100.0:  # type: ignore[arg-type]
        add(("nrw_pct",), f"NRW {nrw_pct:,.1f} % is outside 0–100 % of the system input")
    if _finite(real_losses_m3) and float(real_losses_m3) < 0:  # type: ignore[arg-type]
        add(_LOSS_KPIS, f"real losses are negative ({real_losses_m3:,.0f} m³)")
    if _finite(ili) and float(ili) < 1:  # type: ignore[arg-type]
        add(("ili",), f"ILI {ili:.2f} is below the technical minimum of 1")
    for text in extra:
        if text:
            add(FLAGGED_KPIS, text)
    return out


def merge_warnings(parts: Mapping[str, Mapping[str, list[str]]]) -> dict[str, list[str]]:
    """Per-KPI warnings of several zones as one map, each warning prefixed with its zone's name."""
    out: dict[str, list[str]] = {}
    for zone, flags in parts.items():
        for key, texts in flags.items():
            out.setdefault(key, []).extend(f"{zone}: {t}" for t in texts)
    return out
