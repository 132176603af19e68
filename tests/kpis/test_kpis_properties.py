"""Property tests of the indicator set: any non-negative inputs give finite values or None with a reason,
never 0 standing in for unknown and never infinity or NaN; the parser accepts exactly what it promises."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tirta.errors import InputError
from tirta.kpis import E2_MINIMUM, INPUT_VARIABLES, compute_kpis, parse_utility

VALUES = st.one_of(st.just(0), st.integers(0, 10**9), st.floats(0, 1e13, allow_nan=False))
INPUTS = st.dictionaries(
    st.sampled_from(sorted(set(INPUT_VARIABLES) - {"hours_supply", "fx_usd"})), VALUES
)


@settings(max_examples=200, deadline=None)
@given(
    values=INPUTS,
    hours=st.none() | st.floats(0, 24),
    fx=st.none() | st.floats(0.01, 1e5),
    days=st.integers(0, 800),
)
def test_any_inputs_give_finite_values_or_a_reason(
    values: dict[str, float], hours: float | None, fx: float | None, days: int
) -> None:
    doc: dict[str, object] = {
        "utility": "x",
        "from": date(2024, 1, 1),
        "to": date(2024, 1, 1) + timedelta(days),
    }
    doc.update(values)
    if hours is not None:
        doc["hours_supply"] = hours
    if fx is not None:
        doc["fx_usd"] = fx
    kpis = compute_kpis(parse_utility(doc))
    assert kpis.days == days + 1
    for kid, v in kpis.indicators.items():
        if v.value is None:
            assert v.reason and {"missing_input", "zero_denominator", "not_finite"} & set(v.flags), kid
            assert v.display is None and v.value_usd is None
        else:
            assert math.isfinite(v.value) and v.reason is None, kid
            assert v.display is not None
            assert set(v.inputs) == set(v.inputs) & set(doc), kid  # only inputs that were given
    json.dumps(kpis.to_dict(), allow_nan=False)  # strict JSON: no NaN or Infinity anywhere


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from(sorted(INPUT_VARIABLES)),
    bad=st.one_of(st.text(max_size=5), st.booleans(), st.floats(max_value=-1e-9)),
)
def test_the_parser_rejects_non_numbers_and_negatives_naming_the_field(key: str, bad: object) -> None:
    doc = {"utility": "x", "from": "2024-01-01", "to": "2024-12-31", key: bad}
    with pytest.raises(InputError) as info:
        parse_utility(doc)
    assert info.value.field == key


def test_e2_below_the_theoretical_minimum_is_flagged() -> None:
    doc = {
        "utility": "x",
        "from": "2024-01-01",
        "to": "2024-12-31",
        "kwh_pump": 0.2,
        "v_pumped": 1.0,
        "head_m": 100.0,
    }
    e2 = compute_kpis(parse_utility(doc)).indicators["E2"]
    assert round(E2_MINIMUM, 4) == 0.2725
    assert e2.value == pytest.approx(0.2)
    assert "below_theoretical_minimum" in e2.flags and e2.bands == []
