"""Indicators: UARL (§9.1, §1.1), burst partition (§9.2), Jakarta KPIs (§9.3), bands, warnings, score."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tirta.balance import (
    ILI_BELOW_ONE,
    BalanceInputs,
    Costs,
    SystemData,
    Volume,
    assess,
    band_schemes,
    compute_balance,
    compute_kpis,
    data_validity_score,
    ili_band,
    nrw_cost,
    partition_bursts,
    uarl_coefficient_us_to_metric,
    uarl_components_us,
    uarl_l_per_day,
    uarl_us_gal_per_day,
    uarl_validity,
)
from tirta.errors import InputError
from tirta.units import from_si, to_si

# --- §9.1 / reference-cases §1.1: UARL of a 600-mile, 60,000-connection system at 70 psi [P] -------------


@pytest.mark.parametrize(
    ("meter_ft", "published_mgd", "per_conn_psi", "per_conn", "formula_mgd"),
    [(100.0, 1.43, 0.34, 23.8, 1.453), (20.0, 0.97, 0.23, 16.1, 0.976)],
)
def test_uarl_us_units_600_mile_system(
    meter_ft: float, published_mgd: float, per_conn_psi: float, per_conn: float, formula_mgd: float
) -> None:
    nc = 60_000
    lp_mi = nc * to_si(meter_ft, "ft", "length") / to_si(1.0, "mi", "length")
    gal_d = uarl_us_gal_per_day(600.0, nc, lp_mi, 70.0)
    mgd = gal_d / 1e6
    assert mgd == pytest.approx(published_mgd, rel=0.02)  # Fig. 7.3 reading, ±2 %
    assert gal_d / nc / 70.0 == pytest.approx(per_conn_psi, rel=0.02)
    assert gal_d / nc == pytest.approx(per_conn, rel=0.02)
    assert round(mgd, 3) == formula_mgd  # formula output [D] with 5.4/0.15/7.5


def test_us_and_metric_uarl_formulas_agree() -> None:
    lm_mi, nc, lp_mi, p_psi = 600.0, 60_000, 1136.4, 70.0
    gal_d = uarl_us_gal_per_day(lm_mi, nc, lp_mi, p_psi)
    km = to_si(1.0, "mi", "length") / 1000.0
    litres_d = uarl_l_per_day(lm_mi * km, nc, lp_mi * km, to_si(p_psi, "psi", "pressure"))
    assert from_si(litres_d / 1000.0, "gal", "volume") == pytest.approx(gal_d, rel=0.01)


def test_table_7_2_components_and_metric_conversion() -> None:
    comps = uarl_components_us()
    sums = {k: sum(v.values()) for k, v in comps.items()}
    # reference-cases §1.1 [D]: components sum to 5.39, 0.149, 7.47 (≈ 5.4, 0.15, 7.5)
    assert round(sums["mains_per_mile"], 2) == 5.39
    assert round(sums["connections"], 3) == 0.149
    assert round(sums["private_pipe_per_mile"], 2) == 7.47
    # … and 5.4 / 0.15 / 7.5 convert to 18.07 L/km/d/m, 0.808 L/conn/d/m, 25.09 L/km/d/m
    assert round(uarl_coefficient_us_to_metric(5.4, "length"), 2) == 18.07
    assert round(uarl_coefficient_us_to_metric(0.15, "connection"), 3) == 0.808
    assert round(uarl_coefficient_us_to_metric(7.5, "length"), 2) == 25.09
    # i.e. the metric coefficients 18, 0.8, 25 within ±1 %, from the totals and from the component sums
    for total, per, metric in (
        (5.4, "length", 18.0),
        (0.15, "connection", 0.8),
        (7.5, "length", 25.0),
        (sums["mains_per_mile"], "length", 18.0),
        (sums["connections"], "connection", 0.8),
        (sums["private_pipe_per_mile"], "length", 25.0),
    ):
        assert uarl_coefficient_us_to_metric(total, per) == pytest.approx(metric, rel=0.01)  # type: ignore[arg-type]


# --- §9.2 / reference-cases §1.2: background vs bursts, m³/month [P] -----------------------------------


@pytest.mark.parametrize(
    ("rl", "uarl", "bursts", "uarl_share", "burst_share"),
    [(4221, 415, 3806, 10, 90), (33862, 4260, 29602, 13, 87), (1059, 370, 689, 35, 65)],
)
def test_burst_partition(rl: int, uarl: int, bursts: int, uarl_share: int, burst_share: int) -> None:
    p = partition_bursts(rl, uarl)
    assert p.bursts == bursts
    assert p.background == uarl
    assert round(p.background_share_pct) == uarl_share
    assert round(p.bursts_share_pct) == burst_share


# --- §9.3 / reference-cases §1.4: Jakarta-scale audit [D] --------------------------------------------------


def test_jakarta_kpis_exact_to_displayed_rounding(
    jakarta_inputs: BalanceInputs, jakarta_system: SystemData
) -> None:
    b = compute_balance(jakarta_inputs, jakarta_system.days)
    k = compute_kpis(b, jakarta_system)
    assert round(k.nrw_pct, 2) == 46.00
    assert round(k.carl_m3) == 236_857_895
    assert round(k.real_losses_l_per_conn_day, 1) == 550.9
    assert round(k.real_losses_m3_per_km_day, 1) == 51.5
    assert round(k.apparent_losses_l_per_conn_day, 1) == 68.9
    assert round(k.connection_density_per_km, 1) == 93.5
    assert round(k.uarl_l_per_day) == 19_747_055
    assert round(k.uarl_m3) == 7_207_675
    assert round(k.uarl_l_per_day / jakarta_system.connections, 2) == 16.76
    assert round(k.ili, 2) == 32.86
    assert k.band == "D"
    assert not k.uarl_validity.ok
    assert k.uarl_validity.status == "outside_limits"
    assert k.uarl_validity.reasons == ("average pressure 15 m is below 25 m",)
    assert any("below 25 m" in w for w in k.warnings)
    assert not any(ILI_BELOW_ONE in w for w in k.warnings)


def test_nrw_cost_awwa_convention(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs)
    c = nrw_cost(b, Costs(0.2, 0.5, operating_cost=128_185_263.16))
    assert c.unbilled_authorised == pytest.approx(9_500_000 * 0.2)
    assert c.real_losses == pytest.approx(236_857_894.74 * 0.2)
    assert c.apparent_losses == pytest.approx(29_642_105.26 * 0.5)
    assert c.total == pytest.approx(1_900_000 + 47_371_578.95 + 14_821_052.63)
    assert c.pct_of_operating_cost == pytest.approx(50.0)


def test_intermittent_supply_scales_per_day_indicators(
    jakarta_inputs: BalanceInputs, jakarta_system: SystemData
) -> None:
    b = compute_balance(jakarta_inputs)
    full = compute_kpis(b, jakarta_system)
    half = compute_kpis(b, replace(jakarta_system, supply_hours_per_day=12.0))
    assert half.real_losses_l_per_conn_day == pytest.approx(2 * full.real_losses_l_per_conn_day)
    assert half.real_losses_m3_per_km_day == pytest.approx(2 * full.real_losses_m3_per_km_day)
    assert half.uarl_m3 == pytest.approx(full.uarl_m3 / 2)
    assert half.ili == pytest.approx(2 * full.ili)
    assert half.apparent_losses_l_per_conn_day == pytest.approx(full.apparent_losses_l_per_conn_day)


def test_period_mismatch_is_rejected(jakarta_inputs: BalanceInputs, jakarta_system: SystemData) -> None:
    b = compute_balance(jakarta_inputs, days=365)
    with pytest.raises(InputError) as err:
        compute_kpis(b, replace(jakarta_system, days=30))
    assert err.value.field == "system.days"


@pytest.mark.parametrize(
    ("name", "value"),
    [("mains_length_km", 0.0), ("connections", -1.0), ("supply_hours_per_day", 25.0)],
)
def test_bad_system_figures_name_the_field(
    jakarta_inputs: BalanceInputs, jakarta_system: SystemData, name: str, value: float
) -> None:
    b = compute_balance(jakarta_inputs)
    with pytest.raises(InputError) as err:
        compute_kpis(b, replace(jakarta_system, **{name: value}))
    assert err.value.field == f"system.{name}"


# --- UARL validity ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lm", "nc", "p", "fragments"),
    [
        (100.0, 5000, 50.0, []),
        (100.0, 2500, 50.0, ["2500 service connections is below 3000"]),
        (500.0, 5000, 50.0, ["connection density 10.0 per km is below 20"]),
        (100.0, 5000, 15.0, ["average pressure 15 m is below 25 m"]),
        (100.0, 5000, 120.0, ["average pressure 120 m is above 100 m"]),
        (200.0, 2000, 10.0, ["below 3000", "density 10.0", "10 m is below 25 m"]),
    ],
)
def test_uarl_validity_flags(lm: float, nc: int, p: float, fragments: list[str]) -> None:
    v = uarl_validity(lm, nc, p)
    assert v.ok is (not fragments)
    assert len(v.reasons) == len(fragments)
    for fragment, reason in zip(fragments, v.reasons, strict=True):
        assert fragment in reason


# --- bands and warnings: ILI anchors of reference-cases §1.3 [P] ----------------------------------------


def test_banding_schemes_loaded_from_data_file() -> None:
    schemes = band_schemes()
    assert {"wbi_developed", "wbi_developing"} <= set(schemes)
    for scheme in schemes.values():
        letters = [b.band for b in scheme.bands]
        assert letters == ["A", "B", "C", "D"]
        for lower, upper in zip(scheme.bands, scheme.bands[1:], strict=False):
            assert lower.upper == upper.lower  # contiguous


@pytest.mark.parametrize(
    ("value", "scheme", "band"),
    [
        (9.7, "wbi_developing", "C"),  # Gweru, Zimbabwe (sciepub ajwr 5/4/2)
        (9.7, "wbi_developed", "D"),
        (2.6, "wbi_developed", "B"),  # HOFOR Copenhagen 2019
        (2.6, "wbi_developing", "A"),
        (8.0, "wbi_developing", "C"),  # lower bound inclusive
        (7.99, "wbi_developing", "B"),
        (16.0, "wbi_developing", "D"),
        (1.5, "wbi_developed", "A"),
        (0.15, "wbi_developing", "A"),  # below the first band: first band (and a warning)
    ],
)
def test_ili_bands(value: float, scheme: str, band: str) -> None:
    b = ili_band(value, scheme)
    assert b is not None
    assert b.band == band


def test_unknown_scheme_is_an_input_error() -> None:
    with pytest.raises(InputError, match="lpc_hic"):
        ili_band(3.0, "lpc_hic")


def test_santa_ana_ili_below_one_warns() -> None:
    # Santa Ana (CA) 2015 UWMP: ILI 0.15 → "ILI < 1: check data validity"
    warnings = assess(0.15, 1000.0)
    assert len(warnings) == 1
    assert warnings[0].startswith(ILI_BELOW_ONE)
    assert ILI_BELOW_ONE == "ILI < 1: check data validity"
    assert assess(1.0, 1000.0) == []


def test_santa_ana_end_to_end() -> None:
    # 100 km, 5,000 connections, meters at the boundary, 40 m: UARL = 232,000 L/d = 84,680 m³/yr
    system = SystemData(100.0, 5000, 0.0, 40.0)
    rl_target = 0.15 * 84_680.0
    b = compute_balance(_plain(own=10e6 + rl_target, billed=10e6))
    k = compute_kpis(b, system)
    assert k.uarl_m3 == pytest.approx(84_680.0)
    assert round(k.ili, 2) == 0.15
    assert k.uarl_validity.ok
    assert any(w.startswith(ILI_BELOW_ONE) for w in k.warnings)


def test_negative_real_losses_warn() -> None:
    b = compute_balance(_plain(own=1000.0, billed=990.0, unauthorised=50.0))
    assert b.real_losses.value == pytest.approx(-40.0)
    k = compute_kpis(b, SystemData(100.0, 5000, 0.0, 40.0))
    assert any(w.startswith("real losses are negative") for w in k.warnings)
    assert k.band is None


def test_data_validity_score_is_volume_weighted_grade() -> None:
    inputs = replace(
        _plain(own=100.0, billed=50.0),
        own_sources=Volume(100.0, grade=8),
        billed_metered=Volume(50.0, grade=6),
    )
    b = compute_balance(inputs)
    assert data_validity_score(b) == pytest.approx(10 * (8 * 100 + 6 * 50) / 150)


def test_data_validity_score_uses_method_defaults(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs)
    measured = 600e6 + 320e6 + 2e6  # grade 7
    estimated = 4e6 + 7.5e6 + 12e6 + 320e6 * 0.05 / 0.95 + 0.8e6  # grade 5
    expected = 10 * (7 * measured + 5 * estimated) / (measured + estimated)
    assert data_validity_score(b) == pytest.approx(expected)
    low = compute_balance(
        replace(
            jakarta_inputs, own_sources=Volume(600e6, grade=2), billed_metered=Volume(320e6, grade=2)
        )
    )
    k = compute_kpis(low, SystemData(12600.0, 1178022, 5890.11, 15.0))
    assert k.data_validity_score < 50
    assert any(w.startswith("data validity score") for w in k.warnings)


def _plain(own: float, billed: float, unauthorised: float = 0.0) -> BalanceInputs:
    return BalanceInputs(
        own_sources=Volume(own),
        imported=Volume(0.0),
        exported=Volume(0.0),
        billed_metered=Volume(billed),
        billed_unmetered=Volume(0.0),
        unbilled_metered=Volume(0.0),
        customer_meter_under_registration_pct=Volume(0.0),
        unbilled_unmetered=Volume(0.0),
        unauthorised=Volume(unauthorised),
        data_handling_errors=Volume(0.0),
    )


def test_utility_adds_its_own_banding_scheme(tmp_path, monkeypatch):
    """A national scheme in $TIRTA_STANDARDS_DIR/ili_banding.toml is used beside the shipped ones."""
    from tirta.balance.kpis import band_schemes, ili_band

    (tmp_path / "ili_banding.toml").write_text(
        '[national]\ntitle = "National regulator bands"\nbands = [\n'
        '  { band = "good", lower = 1.0, upper = 3.0 },\n'
        '  { band = "poor", lower = 3.0, upper = inf },\n]\n'
    )
    monkeypatch.setenv("TIRTA_STANDARDS_DIR", str(tmp_path))
    assert {"national", "wbi_developing", "wbi_developed"} <= set(band_schemes())
    assert ili_band(5.0, "national").band == "poor"
    assert ili_band(9.7, "wbi_developing").band == "C"
    monkeypatch.delenv("TIRTA_STANDARDS_DIR")
    assert "national" not in band_schemes()
