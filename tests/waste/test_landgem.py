"""LandGEM against the reference's worked examples (landfill-gas.md §1.4, §2; reference-cases.md §3) and
against the equation written out term by term; the INPUT.toml loader's one-line errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tirta.errors import InputError
from tirta.waste import landfill_years, landgem_defaults, load_landfill, methane_generation, methane_loop

CAA = landgem_defaults()["caa"]["conventional"]
INVENTORY = landgem_defaults()["inventory"]["conventional"]


def test_single_cohort_worked_example():
    """landfill-gas.md §1.4 [D]: 100,000 Mg once, CAA k 0.05 / L0 170; tolerance ±1 m³/yr."""
    mass = np.zeros(400)
    mass[0] = 100_000.0
    q = methane_generation(mass, CAA["k"], CAA["L0_m3_per_t"])
    assert q[0] == 0.0  # waste of the calculation year contributes nothing (convention A)
    for after, expected in ((1, 827_029), (2, 786_694), (5, 677_114), (10, 527_337), (20, 319_846)):
        assert q[after] == pytest.approx(expected, abs=1.0)
    assert q.sum() == pytest.approx(16_957_535, abs=1.0)


def test_exact_integral_within_a_third_of_a_percent():
    """landfill-gas.md §1.2: the 0.1-yr sum differs from L0·M·(e^(−k(a)) − e^(−k(a+1))) by < 0.3 %."""
    mass = np.zeros(30)
    mass[0] = 100_000.0
    q = methane_generation(mass, 0.05, 170.0)
    for after, integral in ((1, 829_100), (2, 788_664), (5, 678_809), (10, 528_657), (20, 320_647)):
        exact = 170.0 * 1e5 * (math.exp(-0.05 * (after - 1)) - math.exp(-0.05 * after))
        assert exact == pytest.approx(integral, abs=1.0)
        assert abs(q[after] / exact - 1) < 0.003


@pytest.mark.parametrize(("params", "expected"), [(CAA, 6_672_270), (INVENTORY, 3_290_210)])
def test_ten_years_of_acceptance(params, expected):
    """landfill-gas.md §1.4 [D]: 100,000 Mg/yr accepted 2021–2030, year 2031; tolerance ±1 m³/yr."""
    mass = np.array([100_000.0] * 10 + [0.0])
    q = methane_generation(mass, params["k"], params["L0_m3_per_t"])
    assert q[-1] == pytest.approx(expected, abs=1.0)


def test_power_worked_example(tmp_path: Path):
    """landfill-gas.md §2 [D]: 6.67 M m³ × 75 % × 35.8 MJ/m³ × 38 % → 2.16 MW, 17,019 MWh at CF 0.9 (1 %)."""
    f = tmp_path / "lf.toml"
    f.write_text(
        "open_year = 2021\nclose_year = 2030\nwaste_t_per_year = 100000\nk = 0.05\nL0_m3_per_t = 170\n"
        "methane_pct = 50\ncollection_efficiency = 0.75\nengine_efficiency = 0.38\navailability = 0.9\n"
    )
    years = landfill_years(load_landfill(f)).set_index("year")
    row = years.loc[2031]
    assert row["methane_m3"] == pytest.approx(6_672_270, abs=1.0)
    assert row["lfg_m3"] == pytest.approx(2 * 6_672_270, abs=2.0)
    assert row["co2_m3"] == pytest.approx(6_672_270, abs=2.0)
    assert row["power_mw"] == pytest.approx(2.16, rel=0.01)
    assert row["energy_mwh"] == pytest.approx(17_019, rel=0.01)
    assert years.index[0] == 2021 and years.index[-1] == 2060  # ≥ 30 years after closure
    assert years.loc[2021, "methane_m3"] == 0.0
    assert years.loc[2030, "waste_in_place_t"] == pytest.approx(1_000_000)


@given(
    mass=st.lists(st.floats(0, 5e5, allow_nan=False), min_size=1, max_size=25),
    k=st.floats(0.005, 0.9),
    l0=st.floats(10, 250),
)
@settings(max_examples=40, deadline=None)
def test_vectorised_equals_the_equation_term_by_term(mass, k, l0):
    """Q_CH4 = Σ_i Σ_j k·L0·(M_i/10)·e^(−k·t_ij), written as a plain loop, on random histories."""
    slow = methane_loop(mass, k, l0)
    for method in ("cumsum", "recurrence"):
        fast = methane_generation(np.array(mass), k, l0, method=method)
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-6)


def test_long_fast_decay_takes_the_recurrence_without_overflow():
    """k 2.5 over 300 years would overflow e^(k·y): the result stays finite and equals the loop."""
    mass = np.zeros(300)
    mass[[0, 150, 290]] = 1e6
    with np.errstate(over="raise"):
        q = methane_generation(mass, 2.5, 96.0)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q, methane_loop(list(mass), 2.5, 96.0), rtol=1e-10, atol=1e-9)


def test_batch_of_landfills_equals_one_by_one():
    rng = np.random.default_rng(4)
    mass = rng.uniform(0, 2e5, (5, 40))
    k = np.array([0.02, 0.04, 0.05, 0.17, 0.7])
    l0 = np.array([170, 100, 170, 70, 96.0])
    batch = methane_generation(mass, k, l0)
    for i in range(5):
        np.testing.assert_allclose(batch[i], methane_generation(mass[i], k[i], l0[i]), rtol=1e-12)


def test_own_case_by_hand():
    """Two cohorts, k 0.1, L0 100: year 2 = both cohorts' sections summed by hand."""
    sections = sum(math.exp(-0.1 * j / 10) for j in range(1, 11))
    by_hand = (
        0.1 * 100 * (1000 / 10) * (math.exp(-0.1 * 1) * sections) + 0.1 * 100 * (2000 / 10) * sections
    )
    q = methane_generation(np.array([1000.0, 2000.0, 0.0]), 0.1, 100.0)
    assert q[2] == pytest.approx(by_hand, rel=1e-12)


def test_defaults_fill_parameters(tmp_path: Path):
    f = tmp_path / "lf.toml"
    f.write_text(
        'defaults = "inventory"\nopen_year = 2000\nclose_year = 2001\nwaste_t_per_year = {2000 = 5, 2001 = 7}\n'
        "collection_efficiency = 0.7\nengine_efficiency = 0.35\n"
    )
    lf = load_landfill(f)
    assert (lf.k, lf.l0_m3_per_t, lf.methane_pct, lf.nmoc_ppmv) == (0.04, 100.0, 50.0, 600.0)
    assert lf.waste_t.to_dict() == {2000: 5.0, 2001: 7.0}


GOOD = {
    "open_year": "2010",
    "close_year": "2020",
    "waste_t_per_year": "50000",
    "k": "0.05",
    "L0_m3_per_t": "170",
    "methane_pct": "50",
    "collection_efficiency": "0.75",
    "engine_efficiency": "0.38",
}


@pytest.mark.parametrize(
    ("key", "value", "field", "words"),
    [
        ("close_year", "2005", "close_year", "before the open year"),
        ("k", "0", "k", "greater than 0"),
        ("k", "-0.1", "k", "greater than 0"),
        ("methane_pct", "120", "methane_pct", "at most 100"),
        ("waste_t_per_year", "-5", "waste_t_per_year", "negative"),
        ("L0_m3_per_t", '"lots"', "L0_m3_per_t", "expected a number"),
        ("collection_efficiency", "75", "collection_efficiency", "between 0 and 1"),
        ("open_year", "2010.5", "open_year", "calendar year"),
        ("open_year", "true", "open_year", "expected a number"),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path: Path, key, value, field, words):
    f = tmp_path / "bad.toml"
    f.write_text("".join(f"{k} = {value if k == key else v}\n" for k, v in GOOD.items()))
    with pytest.raises(InputError) as err:
        load_landfill(f)
    assert err.value.field == field and err.value.file == str(f)
    assert err.value.line == list(GOOD).index(key) + 1
    assert words in err.value.message


def test_bad_year_in_table_names_its_line(tmp_path: Path):
    f = tmp_path / "bad.toml"
    text = "".join(f"{k} = {v}\n" for k, v in GOOD.items() if k != "waste_t_per_year")
    f.write_text(text + "[waste_t_per_year]\n2010 = 100\n2011 = -3\n")
    with pytest.raises(InputError) as err:
        load_landfill(f)
    assert err.value.field == "waste_t_per_year.2011" and err.value.line == len(GOOD) + 2


def test_end_year_at_least_30_years_after_closure(tmp_path: Path):
    f = tmp_path / "lf.toml"
    base = "".join(f"{k} = {v}\n" for k, v in GOOD.items())
    for value, words in (("2040", "at least 30 years"), ('"later"', "expected a number")):
        f.write_text(base + f"end_year = {value}\n")
        with pytest.raises(InputError) as err:
            load_landfill(f)
        assert (
            err.value.field == "end_year"
            and err.value.line == len(GOOD) + 1
            and words in err.value.message
        )
    f.write_text(base + "end_year = 2100\n")
    assert landfill_years(load_landfill(f))["year"].iloc[-1] == 2100


def test_missing_field(tmp_path: Path):
    f = tmp_path / "bad.toml"
    f.write_text("".join(f"{k} = {v}\n" for k, v in GOOD.items() if k != "engine_efficiency"))
    with pytest.raises(InputError) as err:
        load_landfill(f)
    assert err.value.field == "engine_efficiency" and "missing" in err.value.message


def test_ipcc_fod_worked_example():
    """landfill-gas.md §4 [D]: W 100,000 t, DOC 0.15, DOCf 0.5, MCF 1, F 0.5, k 0.17 → 781.7, 659.5,
    556.4 t CH4 in years 1–3; tolerance ±0.1 t."""
    from tirta.waste import ipcc_fod_methane_t

    ch4 = ipcc_fod_methane_t(np.array([100_000.0, 0, 0, 0]), k=0.17, doc=0.15)
    assert ch4[0] == 0.0
    np.testing.assert_allclose(ch4[1:], [781.7, 659.5, 556.4], atol=0.1)
    assert math.log(2) / 0.17 == pytest.approx(4.08, abs=0.01)  # half-life, years


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@given(
    doc=st.fixed_dictionaries(
        {},
        optional={
            key: _VALUES
            for key in (
                *GOOD,
                "defaults",
                "landfill_type",
                "end_year",
                "engine",
                "collection_efficiency_band",
            )
        },
    ),
    base=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_any_document_gives_a_result_or_an_input_error(doc, base):
    """Whatever an API client posts, the parser answers with a landfill or an InputError, nothing else."""
    from tirta.waste import parse_landfill

    start = {k: float(v) if "." in v else int(v) for k, v in GOOD.items()} if base else {}
    try:
        lf = parse_landfill({**start, **doc}, source="body")
    except InputError:
        return
    years = landfill_years(lf)
    assert np.isfinite(years.drop(columns="year").to_numpy()).all()


def test_bantargebang_sample_against_its_public_anchors():
    """landfill-gas.md §2.1: GALFAD targeted 26 MW at Bantargebang, ~7 MW installed in 2012."""
    sample = Path(__file__).parents[2] / "src" / "tirta" / "data" / "waste" / "bantargebang.toml"
    years = landfill_years(load_landfill(sample)).set_index("year")
    assert years.loc[2012, "power_mw"] == pytest.approx(26, rel=0.1)
    assert years.loc[2012, "power_mw"] > 7  # installed engines used a fraction of the potential
    assert years.index[-1] == 2060
