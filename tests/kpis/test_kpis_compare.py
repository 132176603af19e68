"""Peer comparison: KPI JSON exports and IBNET-style CSVs side by side with the same definitions, money in US$
at each period's rate, and the report (table + a Plotly chart per indicator) in headless Chromium and as PDF."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tirta.cli import main
from tirta.kpis import compute_kpis, load_utility
from tirta.kpis.compare import compare, load_peers
from tirta.reports import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "tirta" / "data" / "kpis"
SCREENSHOT = ROOT / "docs" / "screenshots" / "kpis-compare.png"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


@pytest.fixture
def exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[Path]:
    """A's 2025 and 2024 (same inputs but NRW lower, v_sold higher) and B's half year, as `compute --json`."""
    a24 = tmp_path / "a2024.toml"
    text = (DATA / "example-a.toml").read_text()
    text = text.replace("2025-01-01", "2024-01-01").replace("2025-12-31", "2024-12-31")
    a24.write_text(
        text.replace("v_sold = 340e6", "v_sold = 360e6").replace("fx_usd = 15_240", "fx_usd = 15_850")
    )
    out = []
    for name, src in (("a25", DATA / "example-a.toml"), ("a24", a24), ("b", DATA / "example-b.toml")):
        code, text, _ = _run(["kpis", "compute", str(src), "--json"], capsys)
        assert code == 0
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        out.append(path)
    return out


def _row(table: dict[str, Any], kid: str) -> dict[str, Any]:
    return next(r for r in table["rows"] if r["id"] == kid)


def test_compare_json_exports_side_by_side(
    exports: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["kpis", "compare", *map(str, exports), "--json"], capsys)
    assert code == 0
    table = json.loads(out)
    labels = [c["label"] for c in table["columns"]]
    assert labels == [
        "Example A (Jakarta-like, synthetic) 2024-01-01–2024-12-31",
        "Example A (Jakarta-like, synthetic) 2025-01-01–2025-12-31",
        "Example B (Ankara-like, synthetic) 2025-01-01–2025-06-30",
    ]
    assert [c["fx_usd"] for c in table["columns"]] == [15_850, 15_240, 36.0]
    nrw = [c["value"] for c in _row(table, "6.1")["cells"]]
    assert nrw == pytest.approx([100 * 260 / 620, 45.1613, 32.1705], abs=1e-4)
    cost = _row(table, "11.1")  # US$ at each period's own rate (reference §6: 0.5211 and 1.9841)
    assert cost["unit"] == "US$/m³"
    assert [c["value"] for c in cost["cells"]] == pytest.approx(
        [2.7e12 / 360e6 / 15_850, 0.5211, 1.9841], abs=1e-4
    )
    e2 = _row(table, "E2")["cells"]
    assert e2[1]["bands"] == [{"scheme": "ecam", "label": "Good"}]
    assert e2[2]["bands"] == [{"scheme": "ecam", "label": "Unsatisfactory"}]


def test_compare_table_and_rate_override(
    exports: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        ["kpis", "compare", *map(str, exports[1:]), "--fx", "Example B (Ankara-like, synthetic)=40"],
        capsys,
    )
    assert code == 0
    assert "Infrastructure Leakage Index" in out and "ecam: Unsatisfactory" in out
    assert "rates used:" in out and "40.0000 TRY/US$" in out
    assert "1.7857" in out  # 11.1 of B at 40 TRY/US$: 71.4286 / 40


def test_ibnet_style_csv_recomputes_with_the_same_definitions(tmp_path: Path) -> None:
    b = load_utility(DATA / "example-b.toml")
    cols = ["utility", "from", "to", "currency", *b.values]
    row = [b.utility, "2025-01-01", "2025-06-30", "TRY", *(repr(v) for v in b.values.values())]
    published = tmp_path / "ibnet.csv"
    published.write_text(",".join(cols) + "\n" + ",".join(f'"{c}"' for c in row) + "\n")
    peers = load_peers([published])
    want = compute_kpis(b).to_dict()["indicators"]
    got = peers[0]["indicators"]
    assert {k: v["value"] for k, v in got.items()} == {k: v["value"] for k, v in want.items()}
    # an IBNET download holding only published indicator values, by year
    only = tmp_path / "ibnet-values.csv"
    only.write_text("utility,year,6.1,12.1,11.1\nPeer C,2023,28.5,3.1,\n")
    c = compare(load_peers([only]))
    assert c.columns[0]["from"] == "2023-01-01" and c.columns[0]["source"] == "as published"
    cells = {r["id"]: r["cells"][0] for r in c.rows}
    assert cells["6.1"]["value"] == 28.5 and "as_published" in cells["6.1"]["flags"]
    assert cells["11.1"]["value"] is None and cells["ILI"]["reason"] == "not in this source"


def test_bad_peer_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("utility,year,v_produced\nPeer C,2023,12e6\nPeer D,2023,lots\n")
    code, _, err = _run(["kpis", "compare", str(bad)], capsys)
    assert (
        code == 2 and err.strip() == f"error: {bad}:3: field 'v_produced': expected a number, got 'lots'"
    )
    neg = tmp_path / "neg.csv"
    neg.write_text("utility,year,v_produced\nPeer C,2023,-5\n")
    code, _, err = _run(["kpis", "compare", str(neg)], capsys)
    assert code == 2 and f"{neg}:2: field 'v_produced': must not be negative" in err
    dates = tmp_path / "dates.csv"
    dates.write_text("utility,from,to,6.1\nPeer C,2023-12-31,2023-01-01,20\n")
    code, _, err = _run(["kpis", "compare", str(dates)], capsys)
    assert code == 2 and f"{dates}:2: field 'to': 'to' (2023-01-01) is before 'from'" in err
    js = tmp_path / "x.json"
    js.write_text(
        '{"utility": "X", "from": "2025-01-01", "to": "2025-12-31", "indicators": {"6.1": {"value": "a"}}}'
    )
    code, _, err = _run(["kpis", "compare", str(js)], capsys)
    assert code == 2 and "field 'indicators.6.1.value'" in err


@pytest.mark.slow
def test_compare_report_in_chromium_and_pdf(
    exports: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").is_file():
        pytest.skip("system Chromium not installed (Debian package 'chromium')")
    html, pdf = tmp_path / "peers.html", tmp_path / "peers.pdf"
    code, _, _ = _run(
        ["kpis", "compare", *map(str, exports), "--report", str(html), "--pdf", str(pdf)], capsys
    )
    assert code == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Indicators side by side" in text and "34.1567" in text
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto(html.resolve().as_uri(), wait_until="load")
        assert page.locator("#kpi-table tr[data-kpi]").count() == 40
        assert page.inner_text('#kpi-table tr[data-kpi="ILI"] td:nth-child(5)').startswith("34.1567")
        assert "ecam: Unsatisfactory" in page.inner_text('#kpi-table tr[data-kpi="E2"] td:nth-child(6)')
        page.wait_for_selector("#chart-ILI .main-svg")
        assert (
            page.get_attribute('#kpi-table tr[data-kpi="ILI"] td:nth-child(2)', "title") == "carl/UARL"
        )
        # one chart per indicator with a value, each with a trace per utility and a bar per period
        assert page.locator(".chart .js-plotly-plot").count() == 40
        bars = page.evaluate("document.getElementById('chart-6_1').data.map(t => [t.name, t.x.length])")
        assert bars == [
            ["Example A (Jakarta-like, synthetic)", 2],
            ["Example B (Ankara-like, synthetic)", 1],
        ]
        assert all(u.startswith(("file:", "data:", "blob:")) for u in requests), requests
        assert not errors, errors
        shot = SCREENSHOT if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1" else tmp_path / "shot.png"
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
