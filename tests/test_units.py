from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tirta.errors import UnitError
from tirta.units import from_si, parse_unit, to_si


@pytest.mark.parametrize(
    ("value", "unit", "quantity", "si"),
    [
        (1.0, "bar", "pressure", 10.19716),
        (100.0, "kPa", "pressure", 10.19716),
        (1.0, "psi", "pressure", 0.70307),
        (3600.0, "m³/h", "flow", 1.0),
        (1000.0, "L/s", "flow", 1.0),
        (3.6e6, "L/h", "flow", 1.0),
        (1.0, "MGD", "flow", 0.0438126),
        (1.0, "gpm", "flow", 6.30902e-5),
        (1.0, "ft", "length", 0.3048),
        (250.0, "cm", "level", 2.5),
        (2.0, "m", "level", 2.0),
    ],
)
def test_to_si(value, unit, quantity, si):
    assert to_si(value, unit, quantity) == pytest.approx(si, rel=1e-5)


def test_wrong_quantity_and_unknown():
    with pytest.raises(UnitError, match="measures pressure, expected a flow unit"):
        parse_unit("bar", "flow")
    with pytest.raises(UnitError, match="unknown unit 'parsec'"):
        parse_unit("parsec")
    with pytest.raises(UnitError, match="unit missing"):
        parse_unit("", "pressure")


@given(
    st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["bar", "psi", "kPa", "m3/h", "L/s", "gpm"])
)
def test_round_trip(value, unit):
    assert from_si(to_si(value, unit), unit) == pytest.approx(value, rel=1e-12, abs=1e-9)


def test_arrays():
    np.testing.assert_allclose(to_si(np.array([3600.0, 7200.0]), "m3/h"), [1.0, 2.0])


def test_power_units_for_engines():
    from tirta.units import parse_unit, to_si

    assert to_si(1.5, "kW", "power") == 1500.0 and to_si(2.0, "MW", "power") == 2e6
    assert parse_unit("kWe", "power").name == "kW"


def test_shown_in_takes_numbers_in_any_si_multiple_and_leaves_missing_figures_missing() -> None:
    import numpy as np

    from tirta.units import shown_in

    mld = {"flow": "MLD", "volume": "m3"}
    assert shown_in(2.5, "flow", mld, si_per_value=1e-3) == pytest.approx(0.216)  # 2.5 L/s
    assert shown_in(np.int64(1), "flow", mld) == pytest.approx(86.4)  # numpy numbers count too
    assert shown_in(12.0, "volume", mld) == 12.0
    for missing in (None, "", "n/a", True):
        assert shown_in(missing, "flow", mld) is None
