"""The IWA water-balance box diagram as inline SVG (no script, prints as it shows).

Boxes are stacked in five columns (system input → authorised / losses → billed, unbilled, apparent, real →
components → revenue / non-revenue water); heights follow the volumes, with a minimum so every label fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["LABELS", "balance_svg"]

LABELS = {
    "system_input_volume": "System input volume",
    "authorised_consumption": "Authorised consumption",
    "water_losses": "Water losses",
    "billed_authorised": "Billed authorised",
    "unbilled_authorised": "Unbilled authorised",
    "apparent_losses": "Apparent losses",
    "real_losses": "Real losses",
    "exported": "Water exported",
    "billed_metered": "Billed metered",
    "billed_unmetered": "Billed unmetered",
    "unbilled_metered": "Unbilled metered",
    "unbilled_unmetered": "Unbilled unmetered",
    "unauthorised_consumption": "Unauthorised consumption",
    "customer_meter_inaccuracies": "Customer meter inaccuracies",
    "data_handling_errors": "Data handling errors",
    "revenue_water": "Revenue water",
    "non_revenue_water": "Non-revenue water",
}
_GROUPS = {
    "billed_authorised": ("exported", "billed_metered", "billed_unmetered"),
    "unbilled_authorised": ("unbilled_metered", "unbilled_unmetered"),
    "apparent_losses": (
        "unauthorised_consumption",
        "customer_meter_inaccuracies",
        "data_handling_errors",
    ),
    "real_losses": ("real_losses",),
}
_COLOURS = {"revenue": "#cfe8d5", "unbilled": "#fdf0c4", "apparent": "#f9d7b5", "real": "#f4b6b0"}
_KIND = {
    "billed_authorised": "revenue",
    "unbilled_authorised": "unbilled",
    "apparent_losses": "apparent",
    "real_losses": "real",
}


def _fmt(value: float, unit: str = "m³") -> str:
    return f"{value:,.0f} {unit}"


def balance_svg(
    components: Mapping[str, Mapping[str, Any]], width: int = 960, height: int = 420, unit: str = "m³"
) -> str:
    """SVG of the balance from ``{name: {"value": m³, "margin": m³, …}}`` (the components of a report);
    ``unit`` names the values' unit when they were converted (a user's display units: ``gal``)."""
    value = {k: float(v["value"]) for k, v in components.items()}
    margin = {k: float(v.get("margin") or 0.0) for k, v in components.items()}
    leaves = [
        (group, leaf)
        for group, names in _GROUPS.items()
        for leaf in names
        if leaf != "exported" or value.get("exported", 0.0) > 0
    ]
    total = sum(max(value[leaf], 0.0) for _, leaf in leaves) or 1.0
    min_h = 34.0
    raw = [max(min_h, height * max(value[leaf], 0.0) / total) for _, leaf in leaves]
    scale = height / sum(raw)
    heights = {leaf: h * scale for (_, leaf), h in zip(leaves, raw, strict=True)}
    col_w = width / 5.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 2}" '
        f'width="100%" role="img" aria-label="IWA water balance" class="balance-diagram" '
        f'font-family="sans-serif" font-size="12">'
    ]

    def box(col: int, y: float, h: float, name: str, kind: str) -> None:
        x = col * col_w
        v = value.get(name, math.nan)
        fill = _COLOURS.get(kind, "#dbe7f3")
        stroke = "#b00020" if v < 0 else "#44546a"
        parts.append(
            f'<g data-component="{name}"><rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{col_w - 2:.1f}" '
            f'height="{h - 2:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1.2" rx="3"/>'
        )
        cy = y + h / 2
        label = escape(LABELS.get(name, name))
        num = escape(_fmt(v, unit))
        if margin.get(name):
            num += f" ± {escape(_fmt(margin[name], unit))}"
        if h >= 30:
            parts.append(
                f'<text x="{x + 8:.1f}" y="{cy - 3:.1f}" font-weight="bold">{label}</text>'
                f'<text x="{x + 8:.1f}" y="{cy + 12:.1f}">{num}</text></g>'
            )
        else:  # a thin box: label and value only, smaller, the margin is in the table
            parts.append(
                f'<text x="{x + 6:.1f}" y="{cy + 4:.1f}" font-size="10.5">{label}: '
                f"{escape(_fmt(v, unit))}</text></g>"
            )

    y = 0.0
    box(0, 0.0, float(height), "system_input_volume", "input")
    authorised = sum(
        heights[leaf] for g, leaf in leaves if g in ("billed_authorised", "unbilled_authorised")
    )
    box(1, 0.0, authorised, "authorised_consumption", "revenue")
    box(1, authorised, height - authorised, "water_losses", "real")
    y = 0.0
    for group in _GROUPS:
        h = sum(heights[leaf] for g, leaf in leaves if g == group)
        box(2, y, h, group, _KIND[group])
        for g, leaf in leaves:
            if g == group:
                box(3, y, heights[leaf], leaf, _KIND[group])
                y += heights[leaf]
    revenue = sum(heights[leaf] for g, leaf in leaves if g == "billed_authorised")
    box(4, 0.0, revenue, "revenue_water", "revenue")
    box(4, revenue, height - revenue, "non_revenue_water", "real")
    parts.append("</svg>")
    return "".join(parts)
