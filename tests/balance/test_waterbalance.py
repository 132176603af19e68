"""The top-down balance: water-balance.md §9.3 volumes, AWWA defaults, validation and identities."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tirta.balance import BalanceInputs, Share, Volume, compute_balance
from tirta.balance.waterbalance import DERIVED_TERMS, INPUT_COMPONENTS, derive
from tirta.errors import InputError


def test_jakarta_volumes_exact_to_displayed_rounding(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs, days=365)
    # water-balance.md §9.3 / reference-cases.md §1.4 (synthetic [D]); percentages are % of SIV, WS = SIV
    assert b.system_input_volume.value == 600_000_000
    assert b.water_supplied.value == 600_000_000
    assert round(b.unbilled_unmetered.value) == 7_500_000
    assert round(b.unauthorised_consumption.value) == 12_000_000
    assert round(b.customer_meter_inaccuracies.value) == 16_842_105
    assert round(b.data_handling_errors.value) == 800_000
    assert round(b.authorised_consumption.value) == 333_500_000
    assert round(b.water_losses.value) == 266_500_000
    assert round(b.apparent_losses.value) == 29_642_105
    assert round(b.real_losses.value) == 236_857_895
    assert round(b.non_revenue_water.value) == 276_000_000
    assert round(100 * b.non_revenue_water.value / b.system_input_volume.value, 2) == 46.00


def test_components_carry_unit_period_method_margin(jakarta_inputs: BalanceInputs) -> None:
    b = compute_balance(jakarta_inputs, days=365)
    comps = b.components()
    assert len(comps) == 20
    for c in comps.values():
        assert c.unit == "m3"
        assert c.period_days == 365
        assert c.margin >= 0
    assert b.own_sources.method == "measured"
    assert b.unbilled_unmetered.method == "estimated"
    assert b.real_losses.method == "derived"
    assert b.own_sources.margin == pytest.approx(12e6)  # 2 % of 600e6
    # a percent-derived component's margin is its own: 30 % of its volume, not of the base
    assert b.customer_meter_inaccuracies.margin == pytest.approx(0.3 * 320e6 * 0.05 / 0.95)
    assert b.unbilled_unmetered.basis == "1.25 % of water supplied"


def test_meter_under_registration_is_percent_of_true_use() -> None:
    # meters record (1 − e) of the true use: metered 95 at e = 5 % means 100 true, 5 lost
    inputs = _simple(billed_metered=95.0, own=200.0, cmi_pct=5.0)
    b = compute_balance(inputs)
    assert b.customer_meter_inaccuracies.value == pytest.approx(5.0)
    assert b.customer_meter_inaccuracies.value != pytest.approx(95.0 * 0.05)


def test_awwa_defaults_when_components_missing() -> None:
    inputs = BalanceInputs(
        own_sources=Volume(1000e3),
        imported=Volume(200e3),
        exported=Volume(100e3),
        billed_metered=Volume(700e3),
        billed_unmetered=Volume(0.0),
        unbilled_metered=Volume(0.0),
        customer_meter_under_registration_pct=Volume(0.0),
    )
    b = compute_balance(inputs, days=365)
    supplied = 1100e3
    assert b.water_supplied.value == supplied
    assert b.unbilled_unmetered.value == pytest.approx(0.0125 * supplied)
    assert b.unauthorised_consumption.value == pytest.approx(0.0025 * supplied)
    assert b.data_handling_errors.value == pytest.approx(0.0025 * 700e3)
    for c in (b.unbilled_unmetered, b.unauthorised_consumption, b.data_handling_errors):
        assert c.method == "default"
        assert c.margin_pct == pytest.approx(50.0)  # tirta's documented default margin
        assert c.grade == 3.0


def test_exports_are_billed_authorised_iwa() -> None:
    # exporting X more from X more own production changes no loss figure
    base = compute_balance(_simple(own=1000.0, billed_metered=600.0))
    more = compute_balance(_simple(own=1300.0, billed_metered=600.0, exported=300.0))
    assert more.billed_authorised.value == base.billed_authorised.value + 300.0
    assert more.water_supplied.value == base.system_input_volume.value
    for name in ("water_losses", "real_losses", "non_revenue_water"):
        assert getattr(more, name).value == pytest.approx(getattr(base, name).value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"billed_metered": Volume(-1.0)}, "volumes.billed_metered"),
        ({"own_sources": Volume(math.nan)}, "volumes.own_sources"),
        ({"imported": Volume(1.0, margin_pct=-5)}, "volumes.imported.margin_pct"),
        ({"unauthorised": Share(-2.0)}, "volumes.unauthorised"),
        ({"unauthorised": Share(120.0)}, "volumes.unauthorised"),
        (
            {"customer_meter_under_registration_pct": Volume(100.0)},
            "volumes.customer_meter_under_registration_pct",
        ),
        ({"exported": Volume(5000.0)}, "volumes.exported"),
        ({"billed_unmetered": Volume(1.0, grade=11)}, "volumes.billed_unmetered.grade"),
        ({"billed_unmetered": Volume(1.0, method="guessed")}, "volumes.billed_unmetered"),  # type: ignore[arg-type]
        ({"billed_metered": Share(10.0)}, "volumes.billed_metered"),
    ],
)
def test_bad_inputs_name_the_field(change: dict[str, object], field: str) -> None:
    inputs = replace(_simple(own=1000.0, billed_metered=500.0), **change)
    with pytest.raises(InputError) as err:
        compute_balance(inputs)
    assert err.value.field == field


def test_bad_period_is_rejected(jakarta_inputs: BalanceInputs) -> None:
    with pytest.raises(InputError) as err:
        compute_balance(jakarta_inputs, days=0)
    assert err.value.field == "system.days"


def test_derived_terms_match_the_arithmetic() -> None:
    # each derived component is a ±1 sum of inputs: set one input to 1 and read which derived ones move
    zero = dict.fromkeys(INPUT_COMPONENTS, 0.0)
    for leaf in INPUT_COMPONENTS:
        moved = {k for k, v in derive({**zero, leaf: 1.0}).items() if v != 0}
        expected = {k for k, terms in DERIVED_TERMS.items() if leaf in terms}
        assert moved == expected, leaf


def _simple(
    own: float, billed_metered: float, exported: float = 0.0, cmi_pct: float = 0.0
) -> BalanceInputs:
    return BalanceInputs(
        own_sources=Volume(own),
        imported=Volume(0.0),
        exported=Volume(exported),
        billed_metered=Volume(billed_metered),
        billed_unmetered=Volume(0.0),
        unbilled_metered=Volume(0.0),
        customer_meter_under_registration_pct=Volume(cmi_pct),
        unbilled_unmetered=Volume(0.0),
        unauthorised=Volume(0.0),
        data_handling_errors=Volume(0.0),
    )


volumes = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)
pcts = st.floats(min_value=0.0, max_value=30.0, allow_nan=False)
margins = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@st.composite
def balance_inputs(draw: st.DrawFn) -> BalanceInputs:
    own = draw(st.floats(min_value=1.0, max_value=1e9))
    imported = draw(volumes)
    exported = draw(st.floats(min_value=0.0, max_value=own + imported))

    def share_or_volume() -> Volume | Share | None:
        kind = draw(st.sampled_from(["share", "volume", "default"]))
        if kind == "share":
            return Share(draw(pcts), margin_pct=draw(margins))
        if kind == "volume":
            return Volume(draw(volumes), margin_pct=draw(margins))
        return None

    return BalanceInputs(
        own_sources=Volume(own, margin_pct=draw(margins)),
        imported=Volume(imported, margin_pct=draw(margins)),
        exported=Volume(exported, margin_pct=draw(margins)),
        billed_metered=Volume(draw(volumes), margin_pct=draw(margins)),
        billed_unmetered=Volume(draw(volumes), margin_pct=draw(margins)),
        unbilled_metered=Volume(draw(volumes), margin_pct=draw(margins)),
        customer_meter_under_registration_pct=Volume(draw(pcts), margin_pct=draw(margins)),
        unbilled_unmetered=share_or_volume(),
        unauthorised=share_or_volume(),
        data_handling_errors=share_or_volume(),
    )


@settings(max_examples=300, deadline=None)
@given(balance_inputs())
def test_balance_identities(inputs: BalanceInputs) -> None:
    b = compute_balance(inputs)
    siv = b.system_input_volume.value
    scale = max(
        siv,
        b.authorised_consumption.value,
        b.apparent_losses.value,
        b.billed_authorised.value,
        1.0,
    )
    tol = 1e-9 * scale
    nrw = b.non_revenue_water.value
    assert nrw == pytest.approx(siv - b.billed_authorised.value, abs=tol)
    assert nrw == pytest.approx(
        b.unbilled_authorised.value + b.apparent_losses.value + b.real_losses.value, abs=tol
    )
    assert b.water_losses.value == pytest.approx(siv - b.authorised_consumption.value, abs=tol)
    assert b.water_losses.value == pytest.approx(b.apparent_losses.value + b.real_losses.value, abs=tol)
    assert b.water_supplied.value == pytest.approx(siv - b.exported.value, abs=tol)
    assert b.authorised_consumption.value == pytest.approx(
        b.billed_authorised.value + b.unbilled_authorised.value, abs=tol
    )
    assert b.revenue_water.value == b.billed_authorised.value
    # every input and every sum of inputs is non-negative when the inputs are
    non_negative = [*b.inputs().values(), b.system_input_volume, b.water_supplied, b.billed_authorised]
    non_negative += [b.unbilled_authorised, b.authorised_consumption, b.apparent_losses]
    for c in non_negative:
        assert c.value >= 0, c.name
    for c in b.components().values():
        assert c.margin >= 0, c.name
    # a difference is never more certain than any of its terms
    assert b.real_losses.margin >= b.water_losses.margin - tol
    assert b.real_losses.margin >= b.apparent_losses.margin - tol
