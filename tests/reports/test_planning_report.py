"""The planning report: HTML with the district map, tables and ranking; PDF printed by Chromium."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tirta.coverage import coverage_report, load_districts
from tirta.network import load_network
from tirta.reports.planning import district_map, planning_html, write_planning_report

SAMPLE = Path(__file__).parents[2] / "src" / "tirta" / "data" / "coverage" / "l-town-districts.geojson"


@pytest.fixture(scope="module")
def report_and_net():
    net = load_network("l-town")
    return coverage_report(load_districts(SAMPLE), net=net), net


def test_map_colours_districts_by_coverage(report_and_net):
    rep, net = report_and_net
    fig = district_map(rep, net)
    polygons = [t for t in fig["data"] if t.get("fill") == "toself"]
    assert len(polygons) == 10 and fig["data"][0]["name"] == "network"
    colour = {t["name"]: t["line"]["color"] for t in polygons}
    assert colour["Cempaka"] != colour["Bukit (peri-urban)"]  # 96 % vs 14 % covered


def test_html_has_tables_and_illustrative_note(report_and_net):
    rep, net = report_and_net
    page = planning_html(rep, net, charts=False)
    for marker in (
        'id="districts-table"',
        'id="jmp-table"',
        'id="ranking-table"',
        "Illustrative districts",
    ):
        assert marker in page
    assert page.count("<tr>") >= 1 + 10 + 1 + 10 + 1 + 10


@pytest.mark.slow
@pytest.mark.service
def test_pdf_is_printed(report_and_net, tmp_path):
    rep, net = report_and_net
    pdf, html = tmp_path / "plan.pdf", tmp_path / "plan.html"
    write_planning_report(rep, net, html=html, pdf=pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-" and html.stat().st_size > 100_000
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Connect first" in text and "Tanjung" in text
