"""Balance reports: HTML content, CSV export, and the page as headless Chromium renders and prints it."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tirta.balance import audit_report, load_audit, run_audit
from tirta.cli import app
from tirta.reports import CHROMIUM_ARGS, audit_html, balance_svg

from .conftest import JAKARTA_TOML

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "screenshots" / "balance-report.png"


def _screenshot_path(tmp_path: Path) -> Path:
    """Refresh the README's screenshot only when asked (TIRTA_UPDATE_SCREENSHOTS=1), else write to tmp."""
    return (
        DOCS_SCREENSHOT if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1" else tmp_path / "report.png"
    )


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    path = tmp_path / "jakarta.toml"
    path.write_text(JAKARTA_TOML, encoding="utf-8")
    return path


def test_audit_html_has_table_diagram_and_no_cdn(audit_file: Path) -> None:
    report = audit_report(run_audit(load_audit(audit_file)))
    html = audit_html(report, "Jakarta")
    assert "<svg" in html and 'data-component="real_losses"' in html
    assert "236,857,895" in html  # CARL of water-balance.md §9.3
    assert "32.86" in html  # ILI
    assert "https://cdn" not in html and "<script src=" not in html


def test_diagram_boxes_stack_to_the_system_input(audit_file: Path) -> None:
    comps = audit_report(run_audit(load_audit(audit_file)))["components"]
    svg = balance_svg(comps, height=400)
    assert svg.count("<rect") == 1 + 2 + 4 + 8 + 2  # exports are 0: no box for them
    comps = {**comps, "real_losses": {**comps["real_losses"], "value": -5.0}}
    assert 'stroke="#b00020"' in balance_svg(comps)  # negative real losses drawn in red


def test_report_cli_writes_html_and_csv(audit_file: Path, tmp_path: Path) -> None:
    out, csv_path = tmp_path / "r.html", tmp_path / "r.csv"
    r = CliRunner().invoke(
        app, ["balance", "report", str(audit_file), "--out", str(out), "--csv", str(csv_path)]
    )
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    rows = {row["component"]: row for row in csv.DictReader(io.StringIO(csv_path.read_text()))}
    assert round(float(rows["real_losses"]["value"])) == 236_857_895


def _browser() -> Any:
    from browser import require_chromium
    from tirta.reports import chromium_path

    sync_api = require_chromium()  # fails, with the command to run, where Chromium is missing
    return sync_api, chromium_path()


@pytest.mark.service
@pytest.mark.slow
def test_dma_report_in_chromium_with_pdf_and_screenshot(
    ltown_stores: dict[str, Any], ltown_billing: Path, tmp_path: Path
) -> None:
    sync_api, exe = _browser()
    html, pdf = tmp_path / "dma.html", tmp_path / "dma.pdf"
    args = ["balance", "dma", "A", "--from", "2021-01", "--to", "2021-03"]
    args += ["--store", ltown_stores["leak"], "--billing", str(ltown_billing)]
    r = CliRunner().invoke(app, [*args, "--report", str(html), "--pdf", str(pdf), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda req: requests.append(req.url))
        page.goto(html.resolve().as_uri(), wait_until="load")
        assert page.inner_text("#title") == "Water balance of DMA A+B"
        # the table shows the same real losses as the JSON
        cell = page.inner_text('#balance-table tr[data-component="real_losses"] td:nth-child(2)')
        assert cell == f"{data['total']['real_losses']:,.0f}"
        assert page.locator("#diagram svg rect").count() >= 15
        # Plotly.js (inlined) drew the trend charts
        page.wait_for_selector("#chart-nrw .main-svg")
        page.wait_for_selector("#chart-night .main-svg")
        assert page.evaluate("typeof Plotly") == "object"
        assert all(u.startswith(("file:", "data:", "blob:")) for u in requests), requests
        assert not errors, errors
        shot = _screenshot_path(tmp_path)
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 20_000
