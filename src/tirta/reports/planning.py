"""The planning report (HTML/PDF) and the figures it shares with the dashboard's planning page.

Districts coloured by coverage over the network's pipes, coverage trends per district, the district
table with JMP shares, the projection to the target and the ranked list of districts to connect first.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tirta.coverage.metrics import coverage_by_year
from tirta.coverage.ranking import outer_rings, to_network_xy
from tirta.coverage.report import CoverageReport
from tirta.network.model import Network
from tirta.reports.render import plotly_js, render, write_pdf

__all__ = ["district_map", "planning_html", "trend_figure", "write_planning_report"]

_SCALE = "RdYlGn"


def _colour(pct: float) -> str:
    from plotly.colors import sample_colorscale

    return str(sample_colorscale(_SCALE, [min(max(pct, 0.0), 100.0) / 100.0])[0])


def pipes_trace(net: Network) -> dict[str, Any]:
    """All links as one line trace (None between links), model coordinates."""
    xy = net.nodes[["x", "y"]].astype(float)
    a = xy.loc[net.links["start_node"]].to_numpy()
    b = xy.loc[net.links["end_node"]].to_numpy()
    nan = np.full(len(a), np.nan)
    xs = np.column_stack([a[:, 0], b[:, 0], nan]).ravel()
    ys = np.column_stack([a[:, 1], b[:, 1], nan]).ravel()
    return {
        "type": "scatter",
        "mode": "lines",
        "x": [None if math.isnan(v) else round(float(v), 2) for v in xs],
        "y": [None if math.isnan(v) else round(float(v), 2) for v in ys],
        "line": {"color": "#8896a6", "width": 1},
        "hoverinfo": "skip",
        "name": "network",
    }


def district_map(
    rep: CoverageReport, net: Network | None, network_crs: str | None = None
) -> dict[str, Any]:
    """Plotly figure (dict): district polygons filled by coverage %, the network, ranks as labels."""
    from plotly.colors import get_colorscale

    traces: list[dict[str, Any]] = []
    if net is not None:
        traces.append(pipes_trace(net))
    to_xy = to_network_xy(rep.districts, network_crs) if net is not None else None
    ranks = {r["district"]: r["rank"] for r in rep.ranking.to_dict(orient="records")}
    cx: list[float] = []
    cy: list[float] = []
    labels: list[str] = []
    colours: list[float] = []
    for name, row in rep.projection.iterrows():
        pct = float(row["coverage_pct"])
        geom = rep.districts.geometry.get(str(name))
        for ring in outer_rings(geom) if geom else []:
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            if to_xy is not None:
                xs, ys = (list(map(float, v)) for v in to_xy(xs, ys))
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": xs,
                    "y": ys,
                    "fill": "toself",
                    "fillcolor": _colour(pct).replace("rgb", "rgba").replace(")", ", 0.45)"),
                    "line": {"color": _colour(pct), "width": 2},
                    "name": str(name),
                    "hoverinfo": "text",
                    "text": f"{name}: {pct:.1f} % covered, {row['unserved_population']:,.0f} unserved",
                    "showlegend": False,
                }
            )
        if not (math.isnan(row["x"]) or math.isnan(row["y"])):
            x, y = (row["x"], row["y"])
            if to_xy is not None:
                (x,), (y,) = to_xy([x], [y])
            colours.append(pct)
            cx.append(float(x))
            cy.append(float(y))
            rank = ranks.get(str(name))
            labels.append(f"{name}<br>{pct:.0f} %" + (f" · #{rank}" if rank else ""))
    traces.append(
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": cx,
            "y": cy,
            "text": labels,
            "textfont": {"size": 10},
            "marker": {
                "size": 6,
                "color": colours,
                "colorscale": [[float(p), str(c)] for p, c in get_colorscale(_SCALE)],
                "cmin": 0,
                "cmax": 100,
                "colorbar": {"title": {"text": "coverage %"}},
            },
            "hoverinfo": "text",
            "name": "districts",
            "showlegend": False,
        }
    )
    layout = {
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "xaxis": {"visible": False, "scaleanchor": "y"},
        "yaxis": {"visible": False},
        "showlegend": False,
        "height": 520,
        "plot_bgcolor": "#ffffff",
    }
    return {"data": traces, "layout": layout}


def trend_figure(rep: CoverageReport) -> dict[str, Any]:
    """Coverage % per year and district (yearly snapshots), with the target as a dashed line."""
    cov = coverage_by_year(rep.districts.table)
    traces: list[dict[str, Any]] = []
    for name, g in cov.groupby("district", sort=False):
        g = g.sort_values("year")
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [int(v) for v in g["year"]],
                "y": [round(float(v), 2) for v in g["coverage_pct"]],
                "name": str(name),
            }
        )
    years = sorted({int(v) for v in cov["year"]} | {rep.target_year})
    traces.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [years[0], rep.target_year],
            "y": [rep.target_pct, rep.target_pct],
            "line": {"dash": "dash", "color": "#333"},
            "name": f"target {rep.target_pct:g} %",
        }
    )
    layout = {
        "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
        "yaxis": {"title": {"text": "coverage %"}, "range": [0, 105]},
        "xaxis": {"title": {"text": "year"}, "dtick": 1},
        "height": 360,
    }
    return {"data": traces, "layout": layout}


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def planning_html(
    rep: CoverageReport,
    net: Network | None = None,
    *,
    charts: bool = True,
    network_crs: str | None = None,
) -> str:
    """The planning report as one self-contained HTML page (Plotly.js inlined when ``charts``)."""
    import json

    d = rep.as_dict()
    tot = d["totals"]
    kpis = [
        ("coverage now (%)", _f(tot["coverage_pct"], 1)),
        ("population", _f(tot["population"])),
        ("unserved population", _f(tot["unserved_population"])),
        (
            f"connections needed a year to {rep.target_pct:g} % by {rep.target_year}",
            _f(tot["connections_needed_per_year"]),
        ),
        ("connections a year now (trend)", _f(tot["connections_per_year"])),
        ("peak demand of the unserved (L/s)", _f(tot["unserved_peak_demand_lps"], 1)),
    ]
    districts = [
        [
            r["district"],
            r["year"],
            _f(r["population"]),
            _f(r["coverage_pct"], 1),
            _f(r["unserved_population"]),
            _f(r["connections_per_year"]),
            _f(r["connections_needed_per_year"]),
            _f(r["projected_coverage_pct"], 1),
            _f(r["target_reached_year"], 1),
        ]
        for r in d["districts"]
    ]
    jmp = [[r["district"], *(_f(v, 1) for v in r["jmp"].values())] for r in d["districts"]]
    ranking = [
        [
            r["rank"],
            r["district"],
            _f(r["unserved_population"]),
            r["node"] or "–",
            _f(r["distance_m"]),
            _f(r["unserved_demand_lps"], 2),
            _f(r["headroom_lps"], 1),
            _f(r["priority"]),
        ]
        for r in d["ranking"]
    ]
    notes = []
    name = rep.districts.path.name
    if "l-town-districts" in name:
        notes.append("Illustrative districts: invented for the L-Town demo, not real data.")
    context = {
        "title": "Coverage and planning",
        "subtitle": f"{name} · target {rep.target_pct:g} % by {rep.target_year}",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "notes": notes,
        "warnings": d["warnings"],
        "kpis": kpis,
        "districts": districts,
        "jmp": jmp,
        "ranking": ranking,
        "map_json": json.dumps(district_map(rep, net, network_crs)).replace("</", "<\\/"),
        "trend_json": json.dumps(trend_figure(rep)).replace("</", "<\\/"),
        "plotly_js": plotly_js() if charts else "",
    }
    return render("planning.html.j2", context)


def write_planning_report(
    rep: CoverageReport,
    net: Network | None,
    *,
    html: Path | None = None,
    pdf: Path | None = None,
    network_crs: str | None = None,
) -> None:
    """Write the report as HTML and/or PDF (the PDF is printed from the HTML by headless Chromium)."""
    page = planning_html(rep, net, network_crs=network_crs)
    if html is not None:
        html.write_text(page, encoding="utf-8")
    if pdf is not None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="tirta-report-") as tmp:
            src = Path(tmp) / "planning.html"
            src.write_text(page, encoding="utf-8")
            write_pdf(src, pdf)
