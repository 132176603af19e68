"""The indicator set against both worked examples of performance-indicators.md §6, every indicator,
and its edge rules (missing input, zero denominator, coverage over 100 %, partial period)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tirta.kpis import INDICATORS, compute_kpis, load_utility

DATA = Path(__file__).resolve().parents[2] / "src" / "tirta" / "data" / "kpis"

# performance-indicators.md §6 table (values computed from §2); tolerance: relative 1e-9 on unrounded
# values, or ±0.0001 on the 4-decimal values of the table. Money: (LCU, US$).
EXPECTED_A = {
    "1.1": 67.5,
    "1.2": 66.0,
    "1.3": 1.5,
    "2.1": 4.0,
    "3.1": 251.6489,
    "3.2": 51.6667,
    "4.1": 138.0010,
    "6.1": 45.1613,
    "6.2": 63.9269,
    "6.3": 0.7671,
    "RL": 694.0639,
    "UARL": 5_562_600,
    "ILI": 34.1567,
    "7.1": 98.5,
    "7.2": 98.8235,
    "9.1": 0.75,
    "10.1": 2.0,
    "15.1": 18,
    "15.2": 40.0,
    "15.3": 90.0,
    "15.4": 90.0,
    "16.1": 4.2453,
    "17.1": 80.0,
    "17.2": 0.0,
    "17.3": 80.0,
    "11.1": (7941.1765, 0.5211),
    "11.2": (4354.8387, 0.2858),
    "12.1": 2.4,
    "12.WW": 2.5,
    "12.T": 2.4057,
    "13.1": 20.0,
    "13.2": 10.0,
    "18.1": (8823.5294, 0.5790),
    "18.2": (3.0e12 / 1_000_000, 3.0e12 / 1_000_000 / 15_240),
    "23.1": 54.75,
    "23.2": 96.0,
    "OCC": 1.1111,
    "E1": 0.30,
    "E2": 0.3636,
    "CD": 83.3333,
}
EXPECTED_B = {
    "1.1": 99.1525,
    "1.2": 99.1525,
    "1.3": 0.0,
    "2.1": 97.4576,
    "3.1": 243.6606,
    "3.2": 39.4149,
    "4.1": 165.2736,
    "6.1": 32.1705,
    "6.2": 28.6602,
    "6.3": 0.4169,
    "RL": 351.5821,
    "UARL": 9_513_360,
    "ILI": 7.3581,
    "7.1": 100.0,
    "7.2": 100.0,
    "9.1": 0.5041,
    "10.1": 1.0083,
    "15.1": 24,
    "15.2": 0.0,
    "15.3": 105.0,
    "15.4": 99.0,
    "16.1": 2.8138,
    "17.1": 96.6667,
    "17.2": 5e6 / 150e6 * 100,
    "17.3": 93.3333,
    "11.1": (71.4286, 1.9841),
    "11.2": (48.0769, 1.3355),
    "12.1": 5.4545,
    "12.WW": 2.3810,
    "12.T": 3.9535,
    "13.1": 30.0,
    "13.2": 25.0,
    "18.1": (85.7143, 2.3810),
    "18.2": (15e9 * 365 / 181 / 1_100_000, 15e9 * 365 / 181 / 1_100_000 / 36.0),
    "23.1": 31.3733,
    "23.2": 94.0,
    "OCC": 1.2,
    "E1": 0.70,
    "E2": 0.5455,
    "CD": 68.75,
}
# 17.2 and 18.2 are not in the §6 table; they are checked against the §2 formula with the §6 inputs.


def _close(got: float | None, want: float) -> bool:
    assert got is not None
    return abs(got - want) <= 1e-4 or abs(got - want) <= 1e-9 * abs(want)


@pytest.mark.parametrize(
    ("name", "expected"), [("example-a.toml", EXPECTED_A), ("example-b.toml", EXPECTED_B)]
)
def test_worked_example_every_indicator(name: str, expected: dict) -> None:
    kpis = compute_kpis(load_utility(DATA / name))
    assert set(kpis.indicators) == {i.id for i in INDICATORS} == set(expected)
    for kpi_id, want in expected.items():
        got = kpis.indicators[kpi_id]
        lcu, usd = want if isinstance(want, tuple) else (want, None)
        assert _close(got.value, lcu), (kpi_id, got.value, lcu)
        if usd is not None:
            assert _close(got.value_usd, usd), (kpi_id, got.value_usd, usd)
        assert got.reason is None


def test_example_a_flags_and_bands() -> None:
    k = compute_kpis(load_utility(DATA / "example-a.toml")).indicators
    assert k["ILI"].flags == ["intermittent_supply", "uarl_uncertain"]  # §6: flag P < 25 m, intermittent
    assert any("20 m is below 25 m" in n for n in k["ILI"].notes)
    assert {(b["scheme"], b["label"]) for b in k["E2"].bands} == {("ecam", "Good")}
    assert ("wasreb", "not acceptable") in {(b["scheme"], b["label"]) for b in k["6.1"].bands}
    assert not any("partial_period" in v.flags for v in k.values())  # full year
    assert k["ILI"].grade == 4.0  # weakest graded input (carl)
    assert k["1.1"].flags == ["assumption"] and "6.6 persons per connection" in k["1.1"].notes[0]


def test_example_b_partial_year_is_annualised_and_flagged() -> None:
    kpis = compute_kpis(load_utility(DATA / "example-b.toml"))
    assert kpis.days == 181
    k = kpis.indicators
    for kpi_id in ("9.1", "10.1", "16.1", "18.2"):
        assert "annualised" in k[kpi_id].flags and "partial_period" in k[kpi_id].flags
    assert "annualised" not in k["6.1"].flags
    assert {(b["scheme"], b["label"]) for b in k["E2"].bands} == {("ecam", "Unsatisfactory")}
    assert k["ILI"].flags == ["partial_period"]  # continuous supply, 45 m: within UARL limits


def _with(name: str, **changes: float) -> object:
    u = load_utility(DATA / name)
    return dataclasses.replace(u, values={**u.values, **changes})


def test_zero_denominator_gives_none_with_reason_and_leaves_the_rest() -> None:
    base = compute_kpis(load_utility(DATA / "example-a.toml")).indicators
    k = compute_kpis(_with("example-a.toml", n_conn_ww=0)).indicators  # §6 zero-denominator test
    assert k["12.WW"].value is None and k["12.WW"].reason == "denominator is zero: n_conn_ww"
    assert "zero_denominator" in k["12.WW"].flags
    for kpi_id, v in base.items():
        if kpi_id not in ("12.WW", "12.T", "16.1"):  # 12.T and 16.1 sum W and WW connections
            assert k[kpi_id].value == v.value, kpi_id


def test_missing_input_gives_none_never_zero() -> None:
    u = load_utility(DATA / "example-a.toml")
    values = {k: v for k, v in u.values.items() if k not in ("carl", "v_exported")}
    k = compute_kpis(dataclasses.replace(u, values=values)).indicators
    for kpi_id in ("RL", "ILI", "6.1", "6.2", "3.1"):
        assert k[kpi_id].value is None and "missing_input" in k[kpi_id].flags
    assert k["ILI"].reason == "missing input: carl"
    assert "v_exported (give 0 if there is none)" in (k["6.1"].reason or "")
    assert k["UARL"].value is not None and k["7.1"].value == 98.5


def test_coverage_over_100_is_stored_raw_and_shown_capped() -> None:
    k = compute_kpis(_with("example-a.toml", pop_hc=10_500_000)).indicators  # §6 coverage test
    assert k["1.1"].value == pytest.approx(106.5) and k["1.2"].value == pytest.approx(105.0)
    assert k["1.1"].display == "100 (capped)" and "over_100_capped" in k["1.1"].flags
    assert k["1.3"].display == "1.5000" and "over_100_capped" not in k["1.3"].flags
