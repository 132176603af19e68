"""Sanity checks of simulation results: numbers no distribution network can produce get a warning.

EPANET solves any model it accepts, also one whose pumps cannot run or whose units were mistyped;
the results then show pressures of a thousand metres or no flow at all. These checks say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tirta.hydraulics.engine import Results

__all__ = ["MAX_PRESSURE_M", "MIN_PRESSURE_M", "implausible"]

MAX_PRESSURE_M = 200.0  # 20 bar: above any distribution main's rating (PN16 pipes: 160 m)
MIN_PRESSURE_M = -5.0  # below it the model pulls water up through a vacuum: it cannot deliver demand
ZERO_FLOW_M3S = 1e-5  # 0.01 L/s: less than any meter registers (solver noise is ~1e-6)


def _extreme(frame: pd.DataFrame, largest: bool) -> tuple[float, str, pd.Timestamp]:
    values = frame.to_numpy(dtype=float)
    flat = np.nanargmax(values) if largest else np.nanargmin(values)
    row, col = np.unravel_index(int(flat), values.shape)
    return float(values[row, col]), str(frame.columns[col]), pd.Timestamp(frame.index[row])


def _share(mask: pd.DataFrame) -> str:
    """``"12 of 480"``: how many values of a frame a condition holds for."""
    return f"{int(mask.to_numpy().sum()):,} of {mask.size:,}"


def implausible(results: Results, junctions: list[str]) -> list[str]:
    """Warnings for junction pressures above 200 m or below −5 m, and for no flow in any link."""
    out: list[str] = []
    pressure = results.pressure_m[[c for c in junctions if c in results.pressure_m.columns]]
    if pressure.size and np.isfinite(pressure.to_numpy(dtype=float)).any():
        top, node, at = _extreme(pressure, largest=True)
        if top > MAX_PRESSURE_M:
            share = _share(pressure > MAX_PRESSURE_M)
            out.append(
                f"implausible pressure: {top:,.0f} m at junction '{node}' ({at:%Y-%m-%d %H:%M}), "
                f"{share} junction values above {MAX_PRESSURE_M:.0f} m; check the model's "
                "units, elevations and tank or reservoir heads"
            )
        low, node, at = _extreme(pressure, largest=False)
        if low < MIN_PRESSURE_M:
            share = _share(pressure < MIN_PRESSURE_M)
            out.append(
                f"implausible pressure: {low:,.1f} m at junction '{node}' ({at:%Y-%m-%d %H:%M}), "
                f"{share} junction values below {MIN_PRESSURE_M:.0f} m; the network "
                "cannot deliver its demands (a pump off or a source too low?)"
            )
    flow = results.flow_m3s
    values = flow.to_numpy(dtype=float)
    if values.size and np.isfinite(values).any() and float(np.nanmax(np.abs(values))) < ZERO_FLOW_M3S:
        out.append(
            f"implausible flows: no water moves in any of the {flow.shape[1]} links reported, "
            "over the whole run"
        )
    return out
