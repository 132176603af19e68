"""Monthly wastewater plant report: KPIs against design, energy and biogas, effluent compliance (HTML/PDF).

It takes the dict of :func:`tirta.wastewater.summary.plant_summary`, so the report shows exactly what
``tirta plant kpis --json`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from tirta.reports.render import plotly_js, render

__all__ = ["KPI_LABELS", "plant_html", "plant_kpi_cards"]

#: KPI key -> (label with unit, digits)
KPI_LABELS: Final[dict[str, tuple[str, int]]] = {
    "treated_m3": ("treated (m³)", 0),
    "flow_avg_m3_d": ("average flow (m³/d)", 0),
    "hydraulic_load_ratio": ("hydraulic load / design", 2),
    "hydraulic_peak_ratio": ("peak day / design", 2),
    "bod_load_kg_d": ("BOD5 load (kg/d)", 0),
    "organic_load_ratio": ("organic load / design", 2),
    "pe_served": ("population equivalent served", 0),
    "removal_bod5_pct": ("BOD5 removal (%)", 1),
    "removal_cod_pct": ("COD removal (%)", 1),
    "removal_tss_pct": ("TSS removal (%)", 1),
    "removal_nh3_n_pct": ("NH3-N removal (%)", 1),
    "energy_kwh": ("electricity used (kWh)", 0),
    "energy_kwh_m3": ("specific energy (kWh/m³)", 3),
    "energy_kwh_kg_cod_removed": ("energy per COD removed (kWh/kg)", 2),
    "sludge_kg_tss": ("sludge (kg TSS)", 0),
    "sludge_kg_tss_kg_bod_removed": ("sludge yield (kg TSS/kg BOD removed)", 2),
    "biogas_m3": ("biogas (m³)", 0),
    "methane_energy_kwh": ("methane energy (kWh)", 0),
    "chp_electricity_kwh": ("CHP electricity (kWh)", 0),
    "chp_share_of_demand_pct": ("CHP share of demand (%)", 1),
    "do_avg_mg_l": ("aeration DO, mean (mg/L)", 2),
}


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def plant_kpi_cards(kpis: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label, formatted value) of each KPI, in reading order."""
    return [(k, label, _f(kpis.get(k), d)) for k, (label, d) in KPI_LABELS.items()]


def _charts(months: list[Mapping[str, Any]]) -> list[str]:
    import plotly.graph_objects as go

    labels = [m["month"] for m in months]
    fig = go.Figure()
    fig.add_bar(x=labels, y=[m["energy_kwh"] for m in months], name="electricity used (kWh)")
    fig.add_bar(x=labels, y=[m["chp_electricity_kwh"] for m in months], name="CHP electricity (kWh)")
    fig.update_layout(
        title="Electricity per month", height=300, margin={"t": 40, "b": 30}, barmode="group"
    )
    fig.update_xaxes(type="category")
    energy = fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-energy")
    fig = go.Figure()
    fig.add_scatter(x=labels, y=[m["hydraulic_load_ratio"] for m in months], name="hydraulic")
    fig.add_scatter(x=labels, y=[m["organic_load_ratio"] for m in months], name="organic")
    fig.update_layout(title="Load against design capacity", height=300, margin={"t": 40, "b": 30})
    fig.update_xaxes(type="category")
    load = fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-load")
    return [energy, load]


def plant_html(summary: Mapping[str, Any], month: str | None = None) -> str:
    """HTML report of one plant for ``month`` (``YYYY-MM``; the whole period when None)."""
    plant = summary["plant"]
    months = list(summary["months"])
    chosen = next((m for m in months if m["month"] == month), None) if month else summary["total"]
    compliance = summary["compliance"]
    exceedances = [e for e in compliance["exceedances"] if month is None or e["time"].startswith(month)]
    period = month or (
        f"{summary['period']['from']} – {summary['period']['to']}"
        if summary["period"]["from"]
        else "no data"
    )
    rolling = summary["rolling_compliance_pct"].get(month) if month else None
    return render(
        "plant.html.j2",
        {
            "title": f"{plant['name']}: monthly report",
            "subtitle": f"{period} · {plant['process']} · design {_f(plant['design_flow_m3_d'])} m³/d, "
            f"{_f(plant['design_bod_kg_d'])} kg BOD5/d",
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "kpis": plant_kpi_cards(chosen or {}),
            "has_data": chosen is not None,
            "standard": f"{summary['standard_name']} ({summary['standard_source']})",
            "compliance": compliance,
            "rolling": _f(rolling, 1),
            "exceedances": exceedances,
            "month_rows": [
                [m["month"], *(_f(m.get(k), d) for k, (_, d) in KPI_LABELS.items() if k in _TABLE_KEYS)]
                for m in months
            ],
            "month_header": ["month", *(KPI_LABELS[k][0] for k in _TABLE_KEYS)],
            "charts": _charts(months) if months else [],
            "plotly_js": plotly_js() if months else "",
        },
    )


_TABLE_KEYS: Final = (
    "flow_avg_m3_d",
    "hydraulic_load_ratio",
    "organic_load_ratio",
    "removal_cod_pct",
    "energy_kwh_m3",
    "energy_kwh_kg_cod_removed",
    "chp_share_of_demand_pct",
)
