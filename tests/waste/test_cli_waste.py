"""``tirta waste landgem`` and ``tirta waste kpis`` as a user runs them: real subprocesses, JSON, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "src" / "tirta" / "data" / "waste"


def inproc(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """The CLI in this process (``tirta.cli.main``): exit code, stdout, stderr (a subprocess costs ~7 s)."""
    from tirta.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def tirta(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "COLUMNS": "120",
            "PATH": "/usr/bin:/bin",
            "NO_COLOR": "1",
            "PYTHONPATH": str(ROOT / "src"),
        },
    )


LANDFILL = """open_year = 2021
close_year = 2030
waste_t_per_year = 100000
k = 0.05
L0_m3_per_t = 170
methane_pct = 50
collection_efficiency = 0.75
engine_efficiency = 0.38
"""


def test_landgem_json(tmp_path: Path):
    f = tmp_path / "in.toml"
    f.write_text(LANDFILL)
    out = tirta("waste", "landgem", f, "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert isinstance(rows, list)  # the contract: per year year, methane_m3, lfg_m3, power_mw
    years = {y["year"]: y for y in rows}
    assert min(years) == 2021 and max(years) >= 2060
    assert years[2031]["methane_m3"] == pytest.approx(6_672_270, abs=1)  # landfill-gas.md §1.4
    assert years[2031]["lfg_m3"] == pytest.approx(2 * 6_672_270, abs=2)
    assert years[2031]["power_mw"] == pytest.approx(2.16, rel=0.01)  # landfill-gas.md §2


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("close_year = 2030", "close_year = 2019", 2, "close_year"),
        ("k = 0.05", "k = 0", 4, "k"),
        ("methane_pct = 50", "methane_pct = 101", 6, "methane_pct"),
        ("waste_t_per_year = 100000", "waste_t_per_year = -1", 3, "waste_t_per_year"),
        ("L0_m3_per_t = 170", 'L0_m3_per_t = "x"', 5, "L0_m3_per_t"),
    ],
)
def test_landgem_bad_input_one_line_exit_2(capsys, tmp_path: Path, old, new, line, field):
    f = tmp_path / "bad.toml"
    f.write_text(LANDFILL.replace(old, new))
    code, stdout, stderr = inproc(capsys, "waste", "landgem", f, "--json")
    assert code == 2 and stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {f}:{line}: field '{field}': ")


def test_kpis_sample_json(capsys):
    code, stdout, _ = inproc(
        capsys, "waste", "kpis", SAMPLE / "tonnage-illustrative.csv", "--population", 5_800_000, "--json"
    )
    assert code == 0
    k = json.loads(stdout)
    assert k["accepted"] == 731 * 7 and k["quarantined"] == 0
    assert set(k["streams_t"]) >= {"mixed", "organics", "recyclable_paper", "residual"}
    assert 0 < k["diversion_pct"] < 100 and len(k["months"]) == 24
    assert (
        k["months"][-1]["diversion_pct"] > k["months"][0]["diversion_pct"]
    )  # sorting grows in the sample
    assert k["kg_per_capita_day"] == pytest.approx(k["t_per_day"] * 1000 / 5_800_000)


def test_kpis_negative_tonnage_exit_2_and_quarantine(capsys, tmp_path: Path):
    f = tmp_path / "t.csv"
    f.write_text("date,site,stream,tonnes\n2025-01-01,a,mixed,5\n2025-01-02,a,mixed,-3\n")
    out = tirta("waste", "kpis", f, "--json")
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {f}:3: field 'tonnes': mass must not be negative, got -3"
    code, stdout, _ = inproc(capsys, "waste", "kpis", f, "--quarantine", "--json")
    assert code == 0
    k = json.loads(stdout)
    assert (k["accepted"], k["quarantined"], k["reasons"]) == (1, 1, {"negative mass": 1})
    assert k["quarantine"][0]["line"] == 3


def test_kpis_unknown_site_with_sites_file(capsys, tmp_path: Path):
    f = tmp_path / "t.csv"
    f.write_text("date,site,stream,tonnes\n2025-01-01,mamak,mixed,5\n2025-01-02,elsewhere,mixed,3\n")
    code, _, stderr = inproc(capsys, "waste", "kpis", f, "--sites", SAMPLE / "city.toml", "--json")
    assert code == 2 and f"{f}:3: field 'site': unknown site 'elsewhere'" in stderr


def test_kpis_quarantine_into_the_store(capsys, tmp_path: Path):
    from tirta.telemetry.store import open_store

    f = tmp_path / "t.csv"
    f.write_text(
        "date,site,stream,tonnes\n2025-01-01,a,mixed,5\n2025-01-02,a,rubble,3\n2025-01-03,a,mixed,x\n"
    )
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    code, _, stderr = inproc(capsys, "waste", "kpis", f, "--store", url)
    assert code == 2 and "--quarantine" in stderr
    for _ in range(2):  # a second run records the same rows again, not new ones
        code, _, _ = inproc(capsys, "waste", "kpis", f, "--quarantine", "--store", url, "--json")
        assert code == 0
    with open_store(url) as st:
        q = st.quarantined(source=str(f)).sort_values("detail")
    assert list(q["reason"]) == ["unknown stream", "not a number"]
    assert list(q["sensor"]) == ["tonnage:a/rubble", "tonnage:a/mixed"]
    assert list(q["detail"].str[:7]) == ["line 3:", "line 4:"] and list(q["times_seen"]) == [2, 2]


def test_city_json(capsys):
    code, stdout, _ = inproc(capsys, "waste", "city", SAMPLE / "city.toml", "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["public"]["year"] == "2025" and report["landfills"][0]["operations"] == []
    assert report["kpis"]["sites"]["cankaya-mrf"]["recycling_pct"] > 0
