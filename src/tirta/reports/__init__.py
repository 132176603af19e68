"""Reports shared by all domains: HTML from Jinja2 templates (Plotly.js inlined), PDF via headless Chromium.

Also CSV and JSON exports of the same figures.
"""

from __future__ import annotations

from tirta.reports.balance import (
    audit_html,
    audit_rows,
    dma_html,
    dma_rows,
    write_report,
)
from tirta.reports.diagram import balance_svg
from tirta.reports.kpis import compare_html, write_compare_report
from tirta.reports.render import CHROMIUM_ARGS, chromium_path, render, rows_to_csv, write_pdf

__all__ = [
    "CHROMIUM_ARGS",
    "audit_html",
    "audit_rows",
    "balance_svg",
    "chromium_path",
    "compare_html",
    "dma_html",
    "dma_rows",
    "render",
    "rows_to_csv",
    "write_compare_report",
    "write_pdf",
    "write_report",
]
