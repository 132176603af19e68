"""The balance page in each user's display units: components, margins, months and the diagram's
numbers in the user's volume unit (named in the columns), from the same cached SI balance."""

from __future__ import annotations

import re

from .conftest import Web

GAL = 3.785411784e-3  # m³ per US gallon
BALANCE = {"dma": "C", "from": "2020-12", "to": "2020-12"}


def _cells(html: str, label: str) -> list[float]:
    """The value and margin cells of a component's row (thousands separators removed)."""
    row = html[html.index(f"<tr><td>{label}</td>") :].split("</tr>")[0]
    return [float(v.replace(",", "")) for v in re.findall(r'<td class="num">([\d,.-]+)</td>', row)]


def test_balance_page_in_each_users_volume_unit(web: Web) -> None:
    r = web.client.put(
        "/api/v1/me/units", json={"units": "us"}, headers={"X-API-Key": web.keys["operator"]}
    )
    assert r.status_code == 200, r.text
    si = web.login("admin").get("/balance", params=BALANCE).text
    us = web.login("operator").get("/balance", params=BALANCE).text
    assert '<th id="unit-volume">m3</th>' in si and '<th id="unit-volume">gal</th>' in us
    assert 'inflow <span class="unit-volume">gal</span>' in us
    for label in ("System input volume", "Water losses"):
        (si_value, si_margin), (us_value, us_margin) = _cells(si, label), _cells(us, label)
        # each shown rounded to whole units: the m³ figure within half a m³
        assert abs(us_value * GAL - si_value) <= 0.5 + GAL, (label, us_value, si_value)
        assert abs(us_margin * GAL - si_margin) <= 0.5 + GAL, (label, us_margin, si_margin)
    assert _cells(si, "System input volume")[0] > 100
    diagram = us[us.index('id="diagram"') :].split("</svg>")[0]
    siv = _cells(si, "System input volume")[0]
    gal = [float(v.replace(",", "")) for v in re.findall(r">([\d,]+) gal(?: ±|<)", diagram)]
    assert any(abs(v * GAL - siv) <= 0.5 + siv * 1e-3 for v in gal), gal
    assert " m³" not in diagram and " m³" in si[si.index('id="diagram"') :].split("</svg>")[0]
