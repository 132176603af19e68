"""Tonnage records validated like readings (errors with file/line/field, or quarantine with reasons) and
the KPIs computed from them, per site and city-wide, monthly and yearly, by hand on small files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tirta.errors import InputError
from tirta.waste.kpis import tonnage_kpis
from tirta.waste.tonnage import STREAMS, Site, load_tonnage, parse_tonnage, waste_history

SITES = {s: Site(s, s, k) for s, k in (("lf", "landfill"), ("mrf", "sorting"), ("cp", "composting"))}
GOOD = """# a comment line
date,site,stream,tonnes
2025-01-01,lf,mixed,100
2025-01-01,mrf,recyclable_paper,10
2025-01-01,mrf,residual,5
2025-01-02,cp,organics,20
2025-02-01,lf,mixed,60
2025-02-01,mrf,recyclable_plastic,15
2025-02-01,lf,incinerated,25
"""


def test_kpis_by_hand():
    data = parse_tonnage(GOOD, "t.csv", SITES)
    assert data.quarantine.empty and sorted(data.records["line"]) == [3, 4, 5, 6, 7, 8, 9]
    k = tonnage_kpis(data.records, population=1000.0, sites=SITES)
    total = 100 + 10 + 5 + 20 + 60 + 15 + 25
    assert k["total_t"] == total
    assert k["period"] == {"from": "2025-01-01", "to": "2025-02-01", "days": 32.0}
    assert k["streams_t"]["mixed"] == 160 and k["streams_t"]["recyclable_plastic"] == 15
    assert k["t_per_day"] == pytest.approx(total / 32)
    assert k["kg_per_capita_day"] == pytest.approx(total / 32 * 1000 / 1000)
    assert k["diversion_pct"] == pytest.approx(100 * (10 + 15 + 20) / total)
    assert k["recycling_pct"] == pytest.approx(100 * 25 / total)
    assert k["energy_recovery_pct"] == pytest.approx(100 * 25 / total)
    assert k["landfill_pct"] == pytest.approx(100 * 165 / total)
    assert k["landfill_diversion_pct"] == pytest.approx(100 * (total - 165) / total)
    assert k["sorting_pct"] == pytest.approx(100 * (total - 160) / total)
    jan, feb = k["months"]
    assert (jan["period"], jan["days"], jan["total_t"]) == ("2025-01", 31.0, 135)
    assert jan["diversion_pct"] == pytest.approx(100 * 30 / 135)
    assert (feb["period"], feb["days"], feb["total_t"]) == ("2025-02", 1.0, 100)
    assert [y["period"] for y in k["years"]] == ["2025"]
    assert k["sites"]["mrf"]["total_t"] == 30 and k["sites"]["mrf"]["recycling_pct"] == pytest.approx(
        250 / 3
    )
    assert k["sites"]["lf"]["months"][1]["energy_recovery_pct"] == pytest.approx(100 * 25 / 85)


@pytest.mark.parametrize(
    ("row", "field", "reason", "words"),
    [
        ("2025-13-01,lf,mixed,5", "date", "bad date", "cannot parse the date"),
        ("2025-03-01,nowhere,mixed,5", "site", "unknown site", "unknown site 'nowhere'"),
        ("2025-03-01,lf,rubble,5", "stream", "unknown stream", "unknown stream 'rubble'"),
        ("2025-03-01,lf,mixed,-5", "tonnes", "negative mass", "must not be negative"),
        ("2025-03-01,lf,mixed,lots", "tonnes", "not a number", "expected a number"),
        ("2025-01-01,lf,mixed,100", "date", "duplicate", "first came on line 3"),
    ],
)
def test_bad_rows_error_or_quarantine(row, field, reason, words):
    text = GOOD + row + "\n"
    line = text.count("\n")
    with pytest.raises(InputError) as err:
        parse_tonnage(text, "t.csv", SITES)
    assert (err.value.file, err.value.line, err.value.field) == ("t.csv", line, field)
    assert words in err.value.message
    lenient = parse_tonnage(text, "t.csv", SITES, strict=False)
    assert len(lenient.records) == 7  # the good rows are all kept, nothing of the bad one
    q = lenient.quarantine.iloc[0]
    assert (q["line"], q["reason"], q["field"], q["payload"]) == (line, reason, field, row)
    assert lenient.reasons() == {reason: 1}


def test_tickets_may_repeat_a_day_but_not_a_ticket():
    text = "date,site,stream,tonnes,ticket\n2025-01-01T08:00,lf,mixed,10,A1\n2025-01-01T09:00,lf,mixed,12,A2\n"
    data = parse_tonnage(text, "t.csv", SITES)
    assert data.records["tonnes"].sum() == 22
    with pytest.raises(InputError) as err:
        parse_tonnage(text + "2025-01-01T10:00,lf,mixed,12,A2\n", "t.csv", SITES)
    assert err.value.line == 4 and "ticket 'A2'" in err.value.message


def test_any_site_without_registry_and_header_errors():
    assert len(parse_tonnage("date,site,stream,tonnes\n2025-01-01,x,mixed,1\n", "t.csv").records) == 1
    with pytest.raises(InputError) as err:
        parse_tonnage("date,site,mass\n2025-01-01,x,1\n", "t.csv")
    assert (err.value.line, err.value.field) == (1, "stream")


def test_waste_history_counts_complete_years_only():
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    text = "date,site,stream,tonnes\n" + "".join(
        f"{d.date()},lf,mixed,2\n{d.date()},mrf,residual,1\n{d.date()},mrf,recyclable_glass,7\n"
        for d in days
    )
    rec = parse_tonnage(text, "t.csv", SITES).records
    assert waste_history(rec, "lf").to_dict() == {2023: 730.0}
    assert waste_history(rec).to_dict() == {2023: 1095.0}
    assert waste_history(rec, "lf", complete_only=False).to_dict() == {2023: 730.0, 2024: 2.0 * 182}


def test_sample_file_is_valid_and_feeds_landgem():
    from tirta.waste import landfill_years, load_landfill

    sample = Path(__file__).parents[2] / "src" / "tirta" / "data" / "waste"
    data = load_tonnage(sample / "tonnage-illustrative.csv")
    assert data.quarantine.empty and len(data.records) == 731 * 7
    lf = load_landfill(sample / "mamak.toml")
    assert lf.recorded_years == (2024, 2025)
    mixed = data.records.query("site == 'mamak' and stream == 'mixed'")
    assert lf.waste_t[2024] == pytest.approx(mixed[mixed["date"].dt.year == 2024]["tonnes"].sum())
    years = landfill_years(lf).set_index("year")
    assert 20e6 < years.loc[2024, "waste_in_place_t"] < 35e6  # "> 20 Mt in place" (landfill-gas.md §2.1)
    assert 15 < years.loc[2024, "power_mw"] < 30  # anchor: LFG + gasification ≈ 25–26 MW


_ROW = st.tuples(
    st.dates(min_value=pd.Timestamp("2020-01-01").date(), max_value=pd.Timestamp("2026-12-31").date()),
    st.sampled_from(sorted(SITES)),
    st.sampled_from(sorted(STREAMS)),
    st.decimals(min_value=0, max_value=10_000, places=1, allow_nan=False),
)


@given(
    rows=st.lists(_ROW, min_size=1, max_size=40, unique_by=lambda r: (r[0], r[1], r[2])), bad=st.data()
)
@settings(max_examples=40, deadline=None)
def test_parser_keeps_every_good_row_and_stops_at_a_bad_one(rows, bad):
    text = "date,site,stream,tonnes\n" + "".join(f"{d},{s},{k},{t}\n" for d, s, k, t in rows)
    data = parse_tonnage(text, "t.csv", SITES)
    assert len(data.records) == len(rows)
    assert data.records["tonnes"].sum() == pytest.approx(float(sum(r[3] for r in rows)))
    i = bad.draw(st.integers(0, len(rows) - 1))
    lines = text.splitlines()
    d, s, k, _ = rows[i]
    lines[i + 1] = f"{d},{s},{k},-{bad.draw(st.integers(1, 99))}"
    with pytest.raises(InputError) as err:
        parse_tonnage("\n".join(lines) + "\n", "t.csv", SITES)
    assert (err.value.line, err.value.field) == (i + 2, "tonnes")
    lenient = parse_tonnage("\n".join(lines) + "\n", "t.csv", SITES, strict=False)
    assert len(lenient.records) == len(rows) - 1 and list(lenient.quarantine["line"]) == [i + 2]
