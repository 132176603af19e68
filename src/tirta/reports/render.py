"""Render reports from Jinja2 templates shipped in the package; print them to PDF with headless Chromium.

Plotly.js is inlined from the ``plotly`` package, so a report opens offline (no CDN).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tirta.errors import InputError

__all__ = ["CHROMIUM_ARGS", "chromium_path", "plotly_js", "render", "rows_to_csv", "write_pdf"]

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("tirta.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def plotly_js() -> str:
    """The Plotly.js bundle shipped inside the ``plotly`` package."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def render(template: str, context: Mapping[str, Any]) -> str:
    """HTML of ``templates/<template>`` with ``context``."""
    return _env().get_template(template).render(**context)


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of a list of flat dicts (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    return buf.getvalue()


def chromium_path() -> str:
    """The system Chromium (Debian package ``chromium``); never a downloaded browser."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise InputError("Chromium not found: install the Debian package 'chromium' to print PDFs")


def write_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print an HTML file to PDF (A4) with headless Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    src, out = Path(html_path).resolve(), Path(pdf_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.goto(src.as_uri(), wait_until="load")
            page.pdf(
                path=str(out),
                format="A4",
                print_background=True,
                margin={"top": "12mm", "bottom": "12mm"},
            )
        finally:
            browser.close()
    return out
