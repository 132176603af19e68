"""Water-balance reports: a utility audit (AUDIT.toml) or a DMA over months, as HTML, PDF and CSV rows.

They take the JSON-ready dicts of :func:`tirta.balance.audit_report` and
:func:`tirta.balance.dma_balance_report`, so a report shows exactly what ``--json`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tirta.reports.diagram import LABELS, balance_svg
from tirta.reports.render import plotly_js, render, write_pdf

__all__ = ["audit_html", "audit_rows", "dma_html", "dma_rows", "write_report"]


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _component_rows(components: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "name": name,
            "label": LABELS.get(name, name.replace("_", " ")),
            "value": _f(c["value"]),
            "margin": _f(c["margin"]),
            "margin_pct": _f(c["margin_pct"], 1),
            "method": c["method"],
            "basis": c.get("basis") or "",
        }
        for name, c in components.items()
    ]


def _flag(r: Mapping[str, Any], key: str, text: str) -> str:
    """``text`` marked ⚠ when the KPI ``key`` fails a sanity check (the warning is in the list)."""
    return f"{text} ⚠" if (r.get("kpi_warnings") or {}).get(key) else text


def kpi_warning_lines(rows: list[Mapping[str, Any]]) -> list[str]:
    """The per-KPI sanity warnings of report rows (months, total) as lines: ``period: KPI: why``."""
    return [
        f"{r['period'] + ': ' if 'period' in r else ''}{key}: {w}"
        for r in rows
        for key, texts in (r.get("kpi_warnings") or {}).items()
        for w in texts
    ]


def _kpi_cards(r: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "nrw_pct" not in r:
        return []
    cards = [("NRW (% of system input)", _flag(r, "nrw_pct", _f(r["nrw_pct"], 1)))]
    if "real_losses_l_per_conn_day" in r:
        low, high = r["real_losses_ci95"]
        ili_low, ili_high = r["ili_ci95"]
        per_conn = _f(r["real_losses_l_per_conn_day"], 0)
        cards += [
            ("real losses (L/connection/day)", _flag(r, "real_losses_l_per_conn_day", per_conn)),
            ("real losses 95 % interval (m³)", f"{_f(low)} – {_f(high)}"),
            ("ILI", _flag(r, "ili", _f(r["ili"], 2))),
            ("ILI 95 % interval", f"{_f(ili_low, 1)} – {_f(ili_high, 1)}"),
            (f"band ({r['band_scheme']})", r["band"] or "–"),
            ("UARL (m³)", _f(r["uarl_m3"])),
            ("data validity score (/100)", _f(r["data_validity_score"])),
        ]
    return cards


def _page(context: dict[str, Any], *, charts: bool) -> str:
    base = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "notes": [],
        "warnings": [],
        "kpis": [],
        "diagram": "",
        "components": [],
        "months": [],
        "month_header": [],
        "charts": [],
        "night": [],
        "what_ifs": [],
        "plotly_js": plotly_js() if charts else "",
    }
    base.update(context)
    return render("balance.html.j2", base)


def audit_html(report: Mapping[str, Any], title: str = "Water balance") -> str:
    """HTML report of one audit (``audit_report`` dict): indicators, diagram, table with 95 % margins."""
    days = report["period_days"]
    return _page(
        {
            "title": title,
            "subtitle": f"top-down IWA/AWWA water audit over {days:g} days"
            + (f" · {Path(report['audit']).name}" if report.get("audit") else ""),
            "warnings": kpi_warning_lines([report]) + list(report.get("warnings", [])),
            "kpis": _kpi_cards(report),
            "diagram": balance_svg(report["components"]),
            "components": _component_rows(report["components"]),
        },
        charts=False,
    )


def _trend_charts(months: list[Mapping[str, Any]]) -> list[str]:
    import plotly.graph_objects as go

    labels = [m["period"] for m in months]
    nrw = [m.get("nrw_pct") for m in months]
    rl = [m.get("real_losses") for m in months]
    rl_err = [m["components"]["real_losses"]["margin"] if "components" in m else None for m in months]
    charts = []
    fig = go.Figure(go.Bar(x=labels, y=nrw, name="NRW %", marker_color="#4a7ab7"))
    fig.update_layout(title="NRW (% of system input) per month", height=300, margin={"t": 40, "b": 30})
    fig.update_xaxes(type="category")
    charts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-nrw"))
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=rl,
            name="real losses",
            marker_color="#d9534f",
            error_y={"type": "data", "array": rl_err, "visible": True},
        )
    )
    fig.update_layout(title="Real losses per month (m³, ± 95 %)", height=300, margin={"t": 40, "b": 30})
    fig.update_xaxes(type="category")
    charts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-real-losses"))
    return charts


def _night_chart(nf: Mapping[str, Any]) -> str:
    import plotly.graph_objects as go

    nights = [n["night"] for n in nf["nightly"]]
    fig = go.Figure()
    fig.add_scatter(
        x=nights, y=[n["mnf_m3h"] for n in nf["nightly"]], name="MNF (m³/h)", mode="lines+markers"
    )
    fig.add_scatter(
        x=nights, y=[n["lnu_m3h"] for n in nf["nightly"]], name="legitimate night use", mode="lines"
    )
    p20 = nf["mnf_p20_m3h"]
    if p20:
        fig.add_scatter(x=list(p20), y=list(p20.values()), name="rolling 7-night 20th pct", mode="lines")
    fig.update_layout(title="Minimum night flow per night", height=300, margin={"t": 40, "b": 30})
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-night"))


MONTH_COLUMNS = (
    ("period", "period", None),
    ("coverage %", "coverage", "pct"),
    ("system input (m³)", "inflow_m3", 0),
    ("AMR (m³)", "amr_m3", 0),
    ("billed metered (m³)", "billed_metered_m3", 0),
    ("real losses (m³)", "real_losses", 0),
    ("NRW %", "nrw_pct", 1),
    ("L/conn/day", "real_losses_l_per_conn_day", 0),
    ("ILI", "ili", 2),
)


def dma_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per month and one for the whole period (the CSV export)."""
    rows = []
    for m in [*report["months"], report["total"]]:
        row: dict[str, Any] = {"dma": report["dma"]}
        for key in (
            "period",
            "start",
            "end",
            "covered_days",
            "coverage",
            "inflow_m3",
            "amr_m3",
            "amr_meters",
            "consumption_m3",
            "billed_metered_m3",
            "billed_unmetered_m3",
            "average_pressure_m",
        ):
            row[key] = m.get(key)
        for name in LABELS:
            if name in m:
                row[f"{name}_m3"] = m[name]
        for key in ("nrw_pct", "real_losses_l_per_conn_day", "uarl_m3", "ili", "band"):
            row[key] = m.get(key)
        rows.append(row)
    return rows


def audit_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per balance component (the CSV export of an audit)."""
    return [{"component": name, **c} for name, c in report["components"].items()]


def dma_html(report: Mapping[str, Any]) -> str:
    """HTML report of a DMA over months: balance diagram and table of the period, trends, night flow."""
    total = report["total"]
    months = report["months"]
    table = []
    for m in [*months, total]:
        row = []
        for _, key, digits in MONTH_COLUMNS:
            v = m.get(key)
            if digits == "pct":
                row.append(_f(100 * v if v is not None else None, 1))
            elif isinstance(digits, int):
                row.append(_flag(m, key, _f(v, digits)))
            else:  # the period label
                row.append(v)
        table.append(row)
    notes = [f"inflow = {report['inflow_formula']} (m³/s, signed by link direction)"]
    notes += list(report["notes"])
    notes += [f"{m['period']}: {n}" for m in [*months, total] for n in m["notes"]]
    warnings = kpi_warning_lines([*months, total]) + list(report["warnings"])
    warnings += list(total.get("warnings", []))
    nf = report.get("nightflow")
    night: list[tuple[str, str]] = []
    what_ifs: list[tuple[str, ...]] = []
    charts = _trend_charts(months) if any("nrw_pct" in m for m in months) else []
    if nf is not None:
        warnings += nf["warnings"]
        night = [
            ("night window", nf["window"]),
            ("minimum night flow, mean of nights (m³/h)", _f(nf["mnf_m3h"], 2)),
            (
                f"legitimate night use ({nf['legitimate_night_use_from']}) (m³/h)",
                _f(nf["legitimate_night_use_m3h"], 2),
            ),
            ("night leakage (m³/h)", _f(nf["night_leakage_m3h"], 2)),
            (f"night-day factor, N1 = {nf['n1']:g} (h/day)", _f(nf["ndf_h"], 2)),
            ("daily leakage (m³/day)", _f(nf["daily_leakage_m3d"], 1)),
            ("daily leakage (L/connection/day)", _f(nf["daily_leakage_l_per_conn_d"], 1)),
            ("average zone pressure (m)", _f(nf["average_zone_pressure_m"], 1)),
            ("UARL (m³/day)", _f(nf["uarl_m3d"], 1)),
            ("DMA ILI (night flow)", _f(nf["ili"], 2)),
            ("real losses, bottom-up over the nights (m³)", _f(nf["real_losses_m3"], 0)),
        ]
        what_ifs = [
            (
                _f(w["reduce_by_m"], 1),
                _f(w["pressure_m"], 1),
                f"{w['n1']:g}",
                _f(w["leakage_m3_d"], 1),
                _f(w["saving_m3_d"], 1),
            )
            for w in nf["what_ifs"]
        ]
        if nf["nightly"]:
            charts.append(_night_chart(nf))
    start, end = report["from"][:10], report["to"][:10]
    return _page(
        {
            "title": f"Water balance of DMA {report['dma']}",
            "subtitle": f"{start} to {end} (end excluded, UTC) · {report['connections']} connections · "
            f"{report['mains_length_km']:.1f} km of mains",
            "notes": notes,
            "warnings": warnings,
            "kpis": _kpi_cards(total),
            "diagram": balance_svg(total["components"]) if "components" in total else "",
            "components": _component_rows(total["components"]) if "components" in total else [],
            "months": table,
            "month_header": [h for h, _, _ in MONTH_COLUMNS],
            "charts": charts,
            "night": night,
            "what_ifs": what_ifs,
        },
        charts=bool(charts),
    )


def write_report(html: str, out: str | Path, pdf: str | Path | None = None) -> Path:
    """Write the HTML report (and print it to PDF with headless Chromium when ``pdf`` is given)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    if pdf is not None:
        write_pdf(path, pdf)
    return path
