"""The peer comparison report: KPI table of utilities and periods side by side, a Plotly chart per indicator.

Takes a :class:`tirta.kpis.compare.Comparison`, so the report shows what ``tirta kpis compare`` prints;
Plotly.js is inlined (works offline) and the page prints to PDF with headless Chromium.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tirta.kpis.compare import Comparison
from tirta.reports.render import plotly_js, render, write_pdf

__all__ = ["compare_html", "write_compare_report"]


def _chart(row: dict[str, Any], columns: list[dict[str, Any]]) -> str | None:
    """Grouped bars: x = period, one trace per utility; None when no utility has a value."""
    import plotly.graph_objects as go

    if all(c["value"] is None for c in row["cells"]):
        return None
    fig = go.Figure()
    for utility in dict.fromkeys(c["utility"] for c in columns):
        xs, ys = [], []
        for col, cell in zip(columns, row["cells"], strict=True):
            if col["utility"] == utility:
                xs.append(f"{col['from']} – {col['to']}")
                ys.append(cell["value"])
        fig.add_bar(name=str(utility), x=xs, y=ys)
    fig.update_layout(
        title=f"{row['id']} {row['name']} ({row['unit']})",
        barmode="group",
        height=300,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h"},
    )
    fig.update_xaxes(type="category")
    div_id = "chart-" + "".join(ch if ch.isalnum() else "_" for ch in row["id"])
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id))


def compare_html(
    comparison: Comparison,
    title: str = "Performance indicators: peers side by side",
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """HTML of the comparison report (table, rates used, bands, one chart per indicator)."""
    charts: list[str] = []
    for n, row in enumerate(comparison.rows, start=1):
        chart = _chart(row, comparison.columns)
        if chart:
            charts.append(chart)
        if progress is not None:
            progress(n, len(comparison.rows))
    return render(
        "kpis_compare.html.j2",
        {
            "title": title,
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "columns": comparison.columns,
            "rows": comparison.rows,
            "charts": charts,
            "plotly_js": plotly_js(),
        },
    )


def write_compare_report(
    comparison: Comparison,
    out: str | Path,
    pdf: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the HTML report to ``out`` and, when asked, print it to ``pdf`` (``progress(done, total)``)."""
    path = Path(out)
    path.write_text(compare_html(comparison, progress=progress), encoding="utf-8")
    if pdf is not None:
        write_pdf(path, pdf)
    return path
