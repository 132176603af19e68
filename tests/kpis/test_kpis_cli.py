"""``tirta kpis compute`` JSON contract and its one-line errors (file, line, field; exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tirta.cli import main

DATA = Path(__file__).resolve().parents[2] / "src" / "tirta" / "data" / "kpis"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


def test_compute_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["kpis", "compute", str(DATA / "example-b.toml"), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)  # one JSON object and nothing else
    assert (doc["utility"], doc["from"], doc["to"], doc["days"]) == (
        "Example B (Ankara-like, synthetic)",
        "2025-01-01",
        "2025-06-30",
        181,
    )
    for kid in ("1.1", "6.1", "6.2", "6.3", "7.1", "12.1", "17.3", "23.1", "23.2", "E2", "ILI", "RL"):
        ind = doc["indicators"][kid]
        assert {"name", "value", "unit", "flags", "reason"} <= set(ind)
        assert isinstance(ind["value"], float) and ind["reason"] is None
        assert ind["period"] == "2025-01-01/2025-06-30"
    assert doc["indicators"]["6.1"]["inputs"] == {
        "v_produced": 260e6,
        "v_exported": 2e6,
        "v_sold": 175e6,
    }
    assert doc["indicators"]["23.1"]["value"] == pytest.approx(31.3733, abs=1e-4)
    assert doc["inputs"]["fx_usd"] == 36.0


def test_compute_json_null_with_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "u.toml"
    text = (DATA / "example-a.toml").read_text().replace("n_conn_ww = 60_000", "n_conn_ww = 0")
    path.write_text(text.replace("carl = 190e6\n", ""))
    code, out, _ = _run(["kpis", "compute", str(path), "--json"], capsys)
    assert code == 0
    ind = json.loads(out)["indicators"]
    assert ind["12.WW"]["value"] is None and ind["12.WW"]["reason"] == "denominator is zero: n_conn_ww"
    assert ind["ILI"]["value"] is None and ind["ILI"]["reason"] == "missing input: carl"
    assert "Infinity" not in out and "NaN" not in out


def test_compute_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["kpis", "compute", str(DATA / "example-a.toml")], capsys)
    assert code == 0 and "Infrastructure Leakage Index" in out and "34.1567" in out


BAD = [
    # (replace, with, field, message part)
    ("v_sold = 340e6", 'v_sold = "340e6"', "v_sold", "expected a number"),
    ("to = 2025-12-31", "to = 2024-12-31", "to", "before 'from'"),
    ("v_produced = 620e6", "v_produced = -620e6", "v_produced", "must not be negative"),
    ("opex = 2.7e12", "opx = 2.7e12", "opx", "unknown key"),
    ("hours_supply = 18", "hours_supply = 25", "hours_supply", "at most 24"),
    ("from = 2025-01-01", 'from = "1 Jan 2025"', "from", "expected a date"),
    ("carl = 4", "carl = 11", "grades.carl", "within 1–10"),
]


@pytest.mark.parametrize(("old", "new", "field", "message"), BAD)
def test_bad_input_one_line_file_line_field_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str, message: str
) -> None:
    text = (DATA / "example-a.toml").read_text()
    assert old in text
    text = (
        text.replace(old, new, 1)
        if field != "grades.carl"
        else text[::-1].replace(old[::-1], new[::-1], 1)[::-1]
    )
    path = tmp_path / "utility.toml"
    path.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith(new))
    code, out, err = _run(["kpis", "compute", str(path), "--json"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}:{line}: field '{field}': "), lines[0]
    assert message in lines[0]


def test_missing_file_and_bad_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["kpis", "compute", str(tmp_path / "absent.toml")], capsys)
    assert code == 2 and "utility file not found" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('utility = "x"\nfrom = 2025-01-01\nto = = 3\n')
    code, _, err = _run(["kpis", "compute", str(bad)], capsys)
    assert code == 2 and f"{bad}:3:" in err and len(err.strip().splitlines()) == 1


def test_definitions_list_every_indicator_with_its_formula(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["kpis", "definitions", "--json"], capsys)
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)["indicators"]}
    assert len(rows) == 40 and all(r["formula"] for r in rows.values())
    assert rows["6.1"]["inputs"] == ["v_produced", "v_exported", "v_sold"]
    assert rows["9.1"]["annualised"] and rows["1.1"]["display_cap"] == 100.0
    assert rows["12.WW"]["zero_denominator"] == "n_conn_ww"


def test_supply_zones_give_connection_weighted_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "example-a.toml").read_text().replace("hours_supply = 18\n", "")
    text = text.replace(
        "[grades]",
        "[supply_zones]\nnorth = { connections = 250_000, hours = 12 }\n"
        "south = { connections = 750_000, hours = 20 }\n\n[grades]",
    )
    path = tmp_path / "zones.toml"
    path.write_text(text)
    code, out, _ = _run(["kpis", "compute", str(path), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["indicators"]["15.1"]["value"] == pytest.approx((250_000 * 12 + 750_000 * 20) / 1e6)  # 18
    assert doc["indicators"]["ILI"]["value"] == pytest.approx(34.1567, abs=1e-4)  # same T as example A
    path.write_text(text.replace("hours = 20 }", "hours = 30 }"))
    code, _, err = _run(["kpis", "compute", str(path)], capsys)
    line = text.splitlines().index("south = { connections = 750_000, hours = 20 }") + 1
    assert code == 2 and err.startswith(
        f"error: {path}:{line}: field 'supply_zones.south': hours must be at most 24"
    )
