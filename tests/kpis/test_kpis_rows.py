"""Open-data rows (monthly NRW per DMA with its 12-month rolling NRW, KPI rows) and the ILI < 1 warning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tirta.kpis import compute_kpis, dma_nrw_rows, kpi_rows, load_utility

DATA = Path(__file__).resolve().parents[2] / "src" / "tirta" / "data" / "kpis"


def _month(period: str, nrw: float, inflow: float = 100.0) -> dict[str, object]:
    return {
        "period": period,
        "system_input_volume": inflow,
        "non_revenue_water": nrw,
        "real_losses": 1.0,
        "billed_authorised": inflow - nrw,
        "coverage": 1.0,
        "meters": ["p227"],
        "account": "ACC-1",
    }


def test_rolling_12_month_nrw_needs_12_consecutive_months() -> None:
    months = [_month(f"2021-{m:02d}", float(m)) for m in range(1, 13)] + [_month("2022-01", 20.0)]
    rows = dma_nrw_rows({"A": list(reversed(months))}, licence="ODbL-1.0")
    assert [r["month"] for r in rows][:2] == ["2021-01", "2021-02"]  # sorted by month
    assert [r["nrw_pct_12m"] for r in rows][:11] == [None] * 11
    assert rows[11]["nrw_pct_12m"] == pytest.approx(100 * 78 / 1200)  # Σ 1..12 over 12 × 100 m³
    assert rows[12]["nrw_pct_12m"] == pytest.approx(100 * (78 - 1 + 20) / 1200)
    assert all(r["licence"] == "ODbL-1.0" for r in rows)
    assert set(rows[0]) == {
        "dma",
        "month",
        "inflow_m3",
        "billed_m3",
        "nrw_m3",
        "nrw_pct",
        "nrw_pct_12m",
        "real_losses_m3",
        "data_coverage",
        "flags",
        "licence",
    }  # no meter or account
    gap = [_month(f"2021-{m:02d}", 1.0) for m in range(1, 12)] + [_month("2022-02", 1.0)]
    assert dma_nrw_rows({"A": gap})[-1]["nrw_pct_12m"] is None  # 12 months with a gap are not a year
    neg = dma_nrw_rows({"B": [_month("2021-01", -5.0)]})[0]
    assert neg["flags"] == "negative_losses" and neg["nrw_pct"] == -5.0


def test_kpi_rows_one_per_period_and_indicator() -> None:
    sets = [compute_kpis(load_utility(DATA / f"example-{x}.toml")) for x in "ab"]
    rows = kpi_rows(sets)
    assert len(rows) == 2 * len(sets[0].indicators)
    ili = next(r for r in rows if r["id"] == "ILI" and r["from"] == "2025-01-01" and r["days"] == 365)
    assert ili["value"] == pytest.approx(34.1567, abs=1e-4)
    assert ili["flags"] == "intermittent_supply;uarl_uncertain" and ili["licence"] == "CC-BY-4.0"
    assert "carl=1.9e+08" in ili["inputs"]


def test_ili_below_one_is_flagged() -> None:
    u = load_utility(DATA / "example-b.toml")
    k = compute_kpis(dataclasses.replace(u, values={**u.values, "carl": 5e6})).indicators["ILI"]
    assert k.value == pytest.approx(5e6 / 9_513_360) and "ili_below_1" in k.flags
