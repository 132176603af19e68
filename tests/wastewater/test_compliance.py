"""``tirta plant compliance``: samples exactly at, just above and just below every limit of each standard,
the JSON contract, unit conversion, the reduction rule of the EU UWWTD and bad lab files (file, line, field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tirta.cli import main
from tirta.wastewater import judge, lab_frame, load_effluent_standard, rolling_compliance

HEADER = "sample,time,point,parameter,value,unit"
# P.68/2016 Lampiran I (wastewater.md §1.1): parameter -> (limit, unit); pH is 6-9
P68 = {
    "BOD5": (30.0, "mg/L"),
    "COD": (100.0, "mg/L"),
    "TSS": (30.0, "mg/L"),
    "oil_grease": (5.0, "mg/L"),
    "NH3_N": (10.0, "mg/L"),
    "total_coliform": (3000.0, "MPN/100mL"),
}
EU = {"BOD5": 25.0, "COD": 125.0, "TSS": 35.0}  # UWWTD Annex I Table 1 (wastewater.md §1.2)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, lines: list[str], name: str = "lab.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def one_per_sample(values: dict[str, tuple[float, str]], factor: float) -> list[str]:
    """One effluent sample per parameter, its value at ``factor`` × the limit."""
    return [
        f"s-{p},2026-01-{i + 1:02d}T08:00:00,effluent,{p},{limit * factor!r},{unit}"
        for i, (p, (limit, unit)) in enumerate(values.items())
    ]


def test_p68_exactly_at_every_limit_complies(tmp_path, capsys):
    lines = [
        *one_per_sample(P68, 1.0),
        "s-ph-lo,2026-01-10,effluent,pH,6,-",
        "s-ph-hi,2026-01-11,effluent,pH,9,",
    ]
    code, out, _ = run(capsys, "plant", "compliance", str(write(tmp_path, lines)), "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer == {
        "standard": "id-p68-2016",
        "samples": 8,
        "compliant_samples": 8,
        "compliance_pct": 100.0,
        "exceedances": [],
    }


def test_p68_just_above_every_limit_exceeds(tmp_path, capsys):
    lines = [
        *one_per_sample(P68, 1.001),
        "s-ph-lo,2026-01-10,effluent,pH,5.99,-",
        "s-ph-hi,2026-01-11,effluent,pH,9.01,-",
    ]
    code, out, _ = run(capsys, "plant", "compliance", str(write(tmp_path, lines)), "--json")
    assert code == 0
    answer = json.loads(out)
    assert (
        answer["samples"] == 8 and answer["compliant_samples"] == 0 and answer["compliance_pct"] == 0.0
    )
    got = {e["sample"]: (e["parameter"], e["value"], e["limit"]) for e in answer["exceedances"]}
    for p, (limit, _) in P68.items():
        assert got[f"s-{p}"] == (p, pytest.approx(limit * 1.001), limit)
    assert got["s-ph-lo"] == ("pH", 5.99, 6.0)
    assert got["s-ph-hi"] == ("pH", 9.01, 9.0)
    assert set(answer["exceedances"][0]) == {"sample", "time", "parameter", "value", "limit"}
    assert answer["exceedances"][0]["time"] == "2026-01-01T08:00:00Z"


def test_p68_just_below_every_limit_complies(tmp_path, capsys):
    lines = [
        *one_per_sample(P68, 0.999),
        "s-ph-lo,2026-01-10,effluent,pH,6.01,-",
        "s-ph-hi,2026-01-11,effluent,pH,8.99,-",
    ]
    code, out, _ = run(capsys, "plant", "compliance", str(write(tmp_path, lines)), "--json")
    answer = json.loads(out)
    assert code == 0 and answer["compliant_samples"] == 8 and answer["exceedances"] == []


def test_units_convert_and_equal_limit_in_other_units_complies(tmp_path, capsys):
    lines = [
        "a,2026-02-01,effluent,BOD5,30000,µg/L",  # = 30 mg/L, at the limit
        "a,2026-02-01,effluent,COD,100,g/m3",  # at the limit
        "a,2026-02-01,effluent,total_coliform,3000,CFU/100mL",
        "b,2026-02-02,effluent,BOD5,30001,ug/L",  # just above
        "b,2026-02-02,influent,BOD5,250,mg/L",  # influent rows are not judged
        "c,2026-02-03,influent,COD,900,mg/L",  # a sample with no effluent row is not counted
    ]
    code, out, _ = run(capsys, "plant", "compliance", str(write(tmp_path, lines)), "--json")
    answer = json.loads(out)
    assert code == 0
    assert (
        answer["samples"] == 2 and answer["compliant_samples"] == 1 and answer["compliance_pct"] == 50.0
    )
    (e,) = answer["exceedances"]
    assert (e["sample"], e["parameter"], e["limit"]) == ("b", "BOD5", 30.0)
    assert e["value"] == pytest.approx(30.001)


@pytest.mark.parametrize("factor,exceeds", [(1.0, False), (1.001, True), (0.999, False)])
def test_eu_uwwtd_limits_at_above_below(tmp_path, capsys, factor, exceeds):
    lines = [
        f"s-{p},2026-03-0{i + 1},effluent,{p},{limit * factor!r},mg/L"
        for i, (p, limit) in enumerate(EU.items())
    ]
    lines.append("s-nh,2026-03-05,effluent,NH3_N,40,mg/L")  # not limited by UWWTD Table 1
    code, out, _ = run(
        capsys, "plant", "compliance", str(write(tmp_path, lines)), "--standard", "eu-uwwtd", "--json"
    )
    answer = json.loads(out)
    assert code == 0 and answer["standard"] == "eu-uwwtd" and answer["samples"] == 4
    assert len(answer["exceedances"]) == (3 if exceeds else 0)
    assert {e["limit"] for e in answer["exceedances"]} == (set(EU.values()) if exceeds else set())


def test_eu_uwwtd_reduction_rule_at_above_below(tmp_path, capsys):
    # BOD5 40 mg/L > 25 but reduction vs influent decides: 70 % exactly complies, 69.9 % does not
    lines = [
        "r70,2026-04-01,influent,BOD5,133.33333333333334,mg/L",
        "r70,2026-04-01,effluent,BOD5,40,mg/L",
        "r71,2026-04-02,influent,BOD5,140,mg/L",
        "r71,2026-04-02,effluent,BOD5,40,mg/L",
        "r69,2026-04-03,influent,BOD5,132.8,mg/L",
        "r69,2026-04-03,effluent,BOD5,40,mg/L",
    ]
    code, out, _ = run(
        capsys, "plant", "compliance", str(write(tmp_path, lines)), "--standard", "eu-uwwtd", "--json"
    )
    answer = json.loads(out)
    assert code == 0 and answer["samples"] == 3
    assert [e["sample"] for e in answer["exceedances"]] == ["r69"]


def test_user_permit_toml(tmp_path, capsys):
    permit = tmp_path / "permit.toml"
    permit.write_text(
        'id = "plant-x-permit"\nsource = "Permit 12/2025 of plant X"\n'
        '[limits.NH3_N]\nmax = 5\nunit = "mg/L"\n[limits.pH]\nmin = 6.5\nmax = 8.5\n',
        encoding="utf-8",
    )
    lines = [
        "a,2026-05-01,effluent,NH3_N,5,mg/L",
        "b,2026-05-02,effluent,NH3_N,5.01,mg/L",
        "c,2026-05-03,effluent,pH,6.4,",
    ]
    code, out, _ = run(
        capsys, "plant", "compliance", str(write(tmp_path, lines)), "--standard", str(permit), "--json"
    )
    answer = json.loads(out)
    assert code == 0 and answer["standard"] == "plant-x-permit"
    assert [(e["sample"], e["limit"]) for e in answer["exceedances"]] == [("b", 5.0), ("c", 6.5)]


def test_bad_permit_names_file_and_field(tmp_path, capsys):
    permit = tmp_path / "permit.toml"
    permit.write_text('id = "x"\nsource = "s"\n[limits.phosphate]\nmax = 1\n', encoding="utf-8")
    ok = write(tmp_path, ["a,2026-01-01,effluent,COD,20,mg/L"])
    code, _, err = run(capsys, "plant", "compliance", str(ok), "--standard", str(permit))
    assert code == 2 and err.startswith(f"error: {permit}: field 'limits.phosphate': unknown parameter")
    permit.write_text('id = "x"\n[limits.COD]\nmax = 1\n', encoding="utf-8")
    code, _, err = run(capsys, "plant", "compliance", str(ok), "--standard", str(permit))
    assert code == 2 and f"{permit}: field 'source': a standard must name" in err


def test_rolling_compliance_pct():
    rows = [HEADER.split(",")] + [
        [f"s{i}", f"2026-01-{i + 1:02d}", "effluent", "COD", str(150 if i % 4 == 0 else 50), "mg/L"]
        for i in range(8)
    ]
    result = judge(lab_frame(rows), load_effluent_standard())
    rolling = rolling_compliance(result, "4D")
    assert rolling.iloc[0] == 0.0 and rolling.iloc[3] == 75.0 and rolling.iloc[-1] == 75.0


@pytest.mark.parametrize(
    "line,field,words",
    [
        ("a,2026-01-01,effluent,phosphate,1,mg/L", "parameter", "unknown parameter 'phosphate'"),
        ("a,2026-01-01,effluent,COD,-3,mg/L", "value", "negative COD"),
        ("a,2026-01-01,effluent,COD,abc,mg/L", "value", "not a number"),
        ("a,2026-01-01,effluent,COD,12,kg/h", "unit", "unit"),
        ("a,2026-01-01,effluent,total_coliform,12,mg/L", "unit", "count_density"),
        ("a,2026-01-01,effluent,pH,7,mg/L", "unit", "pH takes no unit"),
        ("a,2026-01-01,effluent,pH,15,-", "value", "outside 0-14"),
        ("a,yesterday-ish,effluent,COD,12,mg/L", "time", "cannot parse time"),
        ("a,2026-01-01,outfall,COD,12,mg/L", "point", "unknown point"),
        ("a,2026-01-01,effluent,COD", "value", "fields"),
        ("ok,2026-01-01,effluent,COD,21,mg/L", "sample", "already given on line 2"),
    ],
)
def test_bad_lab_file_one_line_with_file_line_field(tmp_path, capsys, line, field, words):
    path = write(
        tmp_path, ["ok,2026-01-01,effluent,COD,20,mg/L", line, "ok2,2026-01-02,effluent,COD,20,mg/L"]
    )
    code, out, err = run(capsys, "plant", "compliance", str(path), "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {path}:3: field '{field}': ")
    assert words in err


def test_bad_header_and_unknown_standard(tmp_path, capsys):
    path = tmp_path / "lab.csv"
    path.write_text("sample,time,point,parameter,value\n", encoding="utf-8")
    code, _, err = run(capsys, "plant", "compliance", str(path))
    assert code == 2 and err.startswith(f"error: {path}:1: field 'unit': missing column")
    ok = write(tmp_path, ["a,2026-01-01,effluent,COD,20,mg/L"], "ok.csv")
    code, _, err = run(capsys, "plant", "compliance", str(ok), "--standard", "who-2030")
    assert code == 2 and "field '--standard': unknown standard 'who-2030'" in err


def test_standards_name_their_source():
    for name in ("id-p68-2016", "eu-uwwtd"):
        std = load_effluent_standard(name)
        assert std.id == name and std.source
    assert load_effluent_standard("id-p68-2016").limits["pH"].min == 6.0
