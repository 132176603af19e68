"""Gas-to-power operations: engine telemetry (gas flow, methane %, electric output) from the telemetry
store against the LandGEM model, year by year: collected methane, collection efficiency, energy.

Collected methane = Σ hourly mean gas flow (m³/s) × 3600 s × hourly mean methane fraction; energy =
Σ hourly mean power (W) × 1 h. Hours missing any of an engine's three sensors are left out, and the
model is scaled to the hours covered, so a gap lowers coverage, not the efficiency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.network.sensors import Sensor, make_sensor
from tirta.telemetry.store import Store
from tirta.waste.landfill import Landfill, landfill_years

__all__ = ["engine_sensors", "operations_by_year", "synthetic_engine_readings"]


def engine_sensors(lf: Landfill) -> list[Sensor]:
    """The registry entries of the landfill's engine sensors (gas flow m³/h, methane %, power kW)."""
    out = []
    for e in lf.engines:
        for sid, kind, unit in (
            (e.gas_flow, "gas_flow", "m3/h"),
            (e.methane, "methane", "%"),
            (e.power, "power", "kW"),
        ):
            out.append(make_sensor({"id": sid, "kind": kind, "unit": unit}, file=lf.source))
    return out


def synthetic_engine_readings(
    lf: Landfill,
    start: str,
    end: str,
    *,
    capture: float = 0.7,
    efficiency: float | None = None,
    outage_share: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Hourly long readings (sensor, time, value, unit as metered) of engines that burn ``capture`` of
    the modelled methane, for demos and tests: noisy methane %, whole-day outages of ``outage_share``."""
    if not lf.engines:
        raise InputError("the landfill file lists no [[engine]]", file=lf.source, field="engine")
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, end, freq="1h", inclusive="left", tz="UTC")
    model = landfill_years(lf).set_index("year")["methane_m3"]
    ch4_m3_per_h = model.reindex(times.year).to_numpy() / 8760.0 * capture
    eta = lf.engine_efficiency if efficiency is None else efficiency
    parts = []
    for e in lf.engines:
        share = ch4_m3_per_h / len(lf.engines)
        ch4_pct = np.clip(rng.normal(lf.methane_pct, 1.5, len(times)), 30, 65)
        days = times.normalize()
        down_days = np.unique(days)[rng.random(len(np.unique(days))) < outage_share]
        running = ~np.isin(days, down_days)
        gas_m3h = np.where(running, share / (ch4_pct / 100.0) * rng.normal(1, 0.03, len(times)), 0.0)
        kw = gas_m3h * ch4_pct / 100.0 * lf.lhv_mj_m3 * eta / 3.6  # MJ/h → kW
        for sid, values, unit in (
            (e.gas_flow, gas_m3h, "m3/h"),
            (e.methane, ch4_pct, "%"),
            (e.power, kw, "kW"),
        ):
            parts.append(pd.DataFrame({"sensor": sid, "time": times, "value": values, "unit": unit}))
    return pd.concat(parts, ignore_index=True)


def operations_by_year(store: Store, lf: Landfill) -> list[dict[str, Any]]:
    """Per year with engine telemetry: collected methane (m³), modelled generation and collection
    efficiency, energy (MWh) against the modelled energy and band, mean power (MW), coverage."""
    if not lf.engines:
        return []
    ids = [s for e in lf.engines for s in (e.gas_flow, e.methane, e.power)]
    span = _span(store, ids)
    if span is None:
        return []
    wide = store.read(ids, span[0].floor("h"), span[1].floor("h") + pd.Timedelta(hours=1), every="1h")
    if wide.empty:
        return []
    index = pd.DatetimeIndex(wide.index)
    ch4 = np.zeros(len(wide))
    power_w = np.zeros(len(wide))
    covered = np.ones(len(wide), dtype=bool)
    for e in lf.engines:
        flow, frac, power = (wide[s].to_numpy(dtype=float) for s in (e.gas_flow, e.methane, e.power))
        ok = np.isfinite(flow) & np.isfinite(frac) & np.isfinite(power)
        covered &= ok
        ch4 += np.where(ok, flow * 3600.0 * frac, 0.0)
        power_w += np.where(ok, power, 0.0)
    frame = pd.DataFrame(
        {
            "ch4": np.where(covered, ch4, 0.0),
            "wh": np.where(covered, power_w, 0.0),
            "hours": covered.astype(float),
        },
        index=index,
    )
    by_year = frame.groupby(index.year).sum()
    model = landfill_years(lf).set_index("year")
    out = []
    for year, row in by_year.iterrows():
        y = int(str(year))
        hours_in_year = (pd.Timestamp(f"{y + 1}-01-01") - pd.Timestamp(f"{y}-01-01")).days * 24.0
        share = row["hours"] / hours_in_year
        gen = float(model["methane_m3"].get(y, np.nan)) * share
        collected = float(row["ch4"])
        energy = float(row["wh"]) / 1e6
        modelled_energy = float(model["power_mw"].get(y, np.nan)) * row["hours"] * lf.availability
        out.append(
            {
                "year": y,
                "hours": float(row["hours"]),
                "coverage": share,
                "collected_methane_m3": collected,
                "modelled_methane_m3": gen,
                "collection_efficiency": collected / gen if gen > 0 else None,
                "modelled_collection_efficiency": lf.collection_efficiency,
                "energy_mwh": energy,
                "modelled_energy_mwh": modelled_energy,
                "energy_ratio": energy / modelled_energy if modelled_energy > 0 else None,
                "power_mw": energy / row["hours"] if row["hours"] > 0 else None,
                "modelled_power_mw": float(model["power_mw"].get(y, np.nan)),
                "modelled_power_low_mw": float(model["power_low_mw"].get(y, np.nan)),
                "modelled_power_high_mw": float(model["power_high_mw"].get(y, np.nan)),
                "electric_efficiency": energy * 3600.0 / (collected * lf.lhv_mj_m3)
                if collected > 0
                else None,
            }
        )
    return out


def _span(store: Store, ids: list[str]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last reading time of any of ``ids`` (None when the store has none of them)."""
    known = set(store.sensors(refresh=True).sensors)
    missing = [s for s in ids if s not in known]
    if missing:
        raise InputError(
            f"engine sensor '{missing[0]}' is not registered in the store {store.display_url}",
            field="engine",
        )
    return store.span()
