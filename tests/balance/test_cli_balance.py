"""``tirta balance compute``: the JSON contract on the brief's AUDIT.toml, the table, and bad input files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tirta.cli import app, main

REQUIRED_KEYS = (
    "system_input_volume",
    "water_supplied",
    "billed_authorised",
    "unbilled_authorised",
    "authorised_consumption",
    "water_losses",
    "unauthorised_consumption",
    "customer_meter_inaccuracies",
    "data_handling_errors",
    "apparent_losses",
    "real_losses",
    "non_revenue_water",
    "nrw_pct",
    "real_losses_l_per_conn_day",
    "real_losses_m3_per_km_day",
    "apparent_losses_l_per_conn_day",
    "uarl_m3",
    "ili",
    "real_losses_ci95",
    "ili_ci95",
    "band",
    "warnings",
)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


def test_json_contract_jakarta(jakarta_toml: Path) -> None:
    result = CliRunner().invoke(app, ["balance", "compute", str(jakarta_toml), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # ONE JSON object and nothing else
    assert isinstance(report, dict)
    for key in REQUIRED_KEYS:
        assert key in report, key
    assert report["system_input_volume"] == 600e6
    assert report["water_supplied"] == 600e6
    assert round(report["billed_authorised"]) == 324_000_000
    assert round(report["unbilled_authorised"]) == 9_500_000
    assert round(report["authorised_consumption"]) == 333_500_000
    assert round(report["water_losses"]) == 266_500_000
    assert round(report["unauthorised_consumption"]) == 12_000_000
    assert round(report["customer_meter_inaccuracies"]) == 16_842_105
    assert round(report["data_handling_errors"]) == 800_000
    assert round(report["apparent_losses"]) == 29_642_105
    assert round(report["real_losses"]) == 236_857_895
    assert round(report["non_revenue_water"]) == 276_000_000
    assert round(report["nrw_pct"], 2) == 46.00
    assert round(report["real_losses_l_per_conn_day"], 1) == 550.9
    assert round(report["real_losses_m3_per_km_day"], 1) == 51.5
    assert round(report["apparent_losses_l_per_conn_day"], 1) == 68.9
    # the file rounds Lp to 5,890.1 km (5 m × 1,178,022 = 5,890.11): UARL 1 m³ below §9.3's 7,207,675
    assert report["uarl_m3"] == pytest.approx(7_207_675, abs=2)
    assert round(report["ili"], 2) == 32.86
    low, high = report["real_losses_ci95"]
    assert round((high - low) / 2e6, 2) == 14.87
    assert [round(v, 1) for v in report["ili_ci95"]] == [30.8, 34.9]
    assert report["band"] == "D"
    assert report["band_scheme"] == "wbi_developing"
    assert report["validity"] == {
        "status": "outside_limits",
        "reasons": ["average pressure 15 m is below 25 m"],
    }
    assert any("below 25 m" in w for w in report["warnings"])
    assert report["nrw_cost"]["total"] == pytest.approx(
        9.5e6 * 0.2 + 236_857_894.74 * 0.2 + 29_642_105.26 * 0.5
    )
    comps = report["components"]
    assert comps["unauthorised_consumption"]["method"] == "estimated"
    assert comps["unauthorised_consumption"]["margin_pct"] == pytest.approx(50.0)
    assert comps["own_sources"]["method"] == "measured"
    assert comps["real_losses"]["period_days"] == 365


def test_scheme_option_changes_band(jakarta_toml: Path) -> None:
    # at 50 m the UARL is 10/3 larger: ILI ≈ 9.86, C for developing countries, D for developed ones
    text = jakarta_toml.read_text().replace("average_pressure_m = 15", "average_pressure_m = 50")
    jakarta_toml.write_text(text)
    bands = {}
    for scheme in ("wbi_developing", "wbi_developed"):
        result = CliRunner().invoke(
            app, ["balance", "compute", str(jakarta_toml), "--json", "--scheme", scheme]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert round(report["ili"], 2) == 9.86
        assert report["validity"]["status"] == "ok"
        bands[scheme] = (report["band"], report["band_scheme"])
    assert bands == {"wbi_developing": ("C", "wbi_developing"), "wbi_developed": ("D", "wbi_developed")}


def test_table_output(jakarta_toml: Path) -> None:
    result = CliRunner().invoke(app, ["balance", "compute", str(jakarta_toml)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "real losses" in result.stdout
    assert "236,857,895" in result.stdout
    assert "32.86" in result.stdout
    assert "30.8 – 34.9" in result.stdout
    assert "below 25 m" in result.stdout


def test_defaults_and_plain_numbers(tmp_path: Path, jakarta_toml: Path) -> None:
    lines = [
        ln
        for ln in jakarta_toml.read_text().splitlines()
        if not ln.startswith(("unbilled_unmetered", "unauthorised", "data_handling_errors", "[costs]"))
        and not ln.startswith(("variable_production", "retail_tariff"))
    ]
    path = tmp_path / "defaults.toml"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["balance", "compute", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    comps = report["components"]
    assert comps["unbilled_unmetered"]["value"] == pytest.approx(0.0125 * 600e6)
    assert comps["unauthorised_consumption"]["value"] == pytest.approx(0.0025 * 600e6)
    assert comps["data_handling_errors"]["value"] == pytest.approx(0.0025 * 320e6)
    for name in ("unbilled_unmetered", "unauthorised_consumption", "data_handling_errors"):
        assert comps[name]["method"] == "default"
    assert report["nrw_cost"] is None
    assert comps["imported"]["method"] == "measured"


BAD_CASES = [
    # (what to change in the file, the key the error must name)
    (("billed_metered = { value = 320e6, margin_pct = 1 }", ""), "volumes.billed_metered"),
    (("imported = 0", ""), "volumes.imported"),
    (
        ("billed_metered = { value = 320e6, margin_pct = 1 }", "billed_metered = -320e6"),
        "volumes.billed_metered",
    ),
    (("own_sources = { value = 600e6,", "own_sources = { value = -600e6,"), "volumes.own_sources"),
    (("unauthorised = {", "unauthorized = {"), "volumes.unauthorized"),
    (("margin_pct = 10 }", "margin_pc = 10 }"), "volumes.billed_unmetered.margin_pc"),
    (("average_pressure_m = 15", "average_presure_m = 15"), "system.average_presure_m"),
    (("connections = 1178022", ""), "system.connections"),
    (("mains_length_km = 12600", "mains_length_km = -1"), "system.mains_length_km"),
    (("days = 365 ", "days = 0 "), "system.days"),
    (("supply_hours_per_day = 24 ", "supply_hours_per_day = 30 "), "system.supply_hours_per_day"),
    (("retail_tariff_per_m3 = 0.5", ""), "costs.retail_tariff_per_m3"),
    (
        ("retail_tariff_per_m3 = 0.5", "retail_tariff_per_m3 = 0.5\ncurrency_rate = 2"),
        "costs.currency_rate",
    ),
    (("[costs]", "[cost]"), "cost"),
    (("imported = 0", 'imported = "none"'), "volumes.imported"),
    (("exported = 0", "exported = 700e6"), "volumes.exported"),
    (("{ value = 5, margin_pct = 30 }", "{ value = 100, margin_pct = 30 }"), "volumes.customer_meter"),
    (
        ("{ pct_of_supplied = 2, margin_pct = 50 }", "{ pct_of_supplied = 2, value = 3 }"),
        "volumes.unauthorised",
    ),
    (
        ("{ value = 4e6, margin_pct = 10 }", '{ value = 4e6, method = "guess" }'),
        "volumes.billed_unmetered.method",
    ),
    (
        ("{ value = 2e6, margin_pct = 5 }", "{ value = 2e6, grade = 12 }"),
        "volumes.unbilled_metered.grade",
    ),
]


@pytest.mark.parametrize(("edit", "key"), BAD_CASES)
def test_bad_input_names_key_and_exits_2(
    jakarta_toml: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], key: str
) -> None:
    text = jakarta_toml.read_text()
    assert edit[0] in text
    jakarta_toml.write_text(text.replace(edit[0], edit[1], 1))
    code, out, err = _run(["balance", "compute", str(jakarta_toml), "--json"], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert key in lines[0]
    assert str(jakarta_toml) in lines[0]


def test_bad_toml_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[system\nmains_length_km = 1\n")
    code, _, err = _run(["balance", "compute", str(broken)], capsys)
    assert code == 2
    assert "not valid TOML" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = _run(["balance", "compute", str(tmp_path / "absent.toml")], capsys)
    assert code == 2
    assert "audit file not found" in err


def test_unknown_scheme_exits_2(jakarta_toml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["balance", "compute", str(jakarta_toml), "--scheme", "lpc_hic"], capsys)
    assert code == 2
    assert "lpc_hic" in err
    assert "wbi_developing" in err


def test_real_entry_point_one_line_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[system]\nmains_length_km = 10\n")
    tirta = Path(sys.executable).with_name("tirta")
    cmd = (
        [str(tirta)] if tirta.exists() else [sys.executable, "-c", "from tirta.cli import main; main()"]
    )
    proc = subprocess.run(
        [*cmd, "balance", "compute", str(bad)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "system.connections" in proc.stderr
