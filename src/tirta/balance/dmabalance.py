"""Monthly and period water balance of a DMA from the store: no spreadsheet in between.

System input = the zone's metered inflow (:mod:`tirta.balance.zone`). Consumption = billing imports when
given, else the DMA's AMR meters: their sum, scaled to all connections when only a sample is metered (the
unmetered connections are taken to use as much as the mean metered one, and that extrapolated part carries a
wider margin). Months are calendar months in UTC; a month the telemetry covers only in part is balanced over
the covered time, and its billed volume is pro-rated to that share (said in its notes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tirta.balance.billing import Billing
from tirta.balance.dmanight import NightFlow, NightFlowOptions, night_flow
from tirta.balance.kpis import Kpis, SystemData, compute_kpis, kpis_to_dict
from tirta.balance.sanity import kpi_warnings, sample_warning
from tirta.balance.waterbalance import BalanceInputs, Volume, WaterBalance, compute_balance
from tirta.balance.zone import Zone, read_zone, zone_inflow
from tirta.errors import InputError
from tirta.telemetry.store.base import Store

__all__ = [
    "BalanceOptions",
    "DmaBalance",
    "PeriodBalance",
    "dma_balance",
    "dma_balance_report",
    "parse_month_range",
]


@dataclass(frozen=True)
class BalanceOptions:
    """Assumptions of a DMA balance; margins are 95 % in % of the volume."""

    night: NightFlowOptions = field(default_factory=NightFlowOptions)
    inflow_margin_pct: float = 5.0  # bulk inflow meters
    amr_margin_pct: float = 2.0  # the AMR-metered part of consumption
    extrapolation_margin_pct: float = 20.0  # the part scaled up to connections without AMR
    customer_meter_under_registration_pct: float = 2.0  # % of true metered use (tirta default)
    scheme: str = "wbi_developing"


@dataclass
class PeriodBalance:
    """Volumes (m³) and balance of a zone over one month or the whole period."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    covered_days: float
    coverage: float  # share of the period with readings of every inflow meter
    inflow_m3: float
    amr_m3: float | None  # sum of the AMR meters (the metered sample)
    amr_meters: int
    consumption_m3: float | None  # AMR scaled to all connections
    billed_metered_m3: float | None
    billed_unmetered_m3: float | None
    average_pressure_m: float | None
    balance: WaterBalance | None
    kpis: Kpis | None
    notes: list[str] = field(default_factory=list)
    sample_warning: str | None = None  # consumption extrapolated from too few meters


@dataclass
class DmaBalance:
    """Everything ``tirta balance dma`` shows: the zone, months, period total and night-flow analysis."""

    zone: Zone
    start: pd.Timestamp
    end: pd.Timestamp
    months: list[PeriodBalance]
    total: PeriodBalance
    nightflow: NightFlow | None
    inflow: pd.DataFrame  # signed meters, storage change and inflow, m³/s
    options: BalanceOptions
    warnings: list[str] = field(default_factory=list)


def parse_month_range(start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) in UTC from ``YYYY-MM`` (whole months, ``end`` included) or ``YYYY-MM-DD`` (whole days)."""

    def parse(text: str, fld: str, upper: bool) -> pd.Timestamp:
        for fmt, step in (("%Y-%m", pd.DateOffset(months=1)), ("%Y-%m-%d", pd.DateOffset(days=1))):
            try:
                ts = pd.Timestamp(pd.to_datetime(text.strip(), format=fmt)).tz_localize("UTC")
            except (ValueError, OverflowError):
                continue
            if not 1900 <= ts.year < 2200:
                raise InputError(f"expected a year within 1900–2199, got {text!r}", field=fld)
            return ts + step if upper else ts
        raise InputError(f"expected a month YYYY-MM or a day YYYY-MM-DD, got {text!r}", field=fld)

    t0, t1 = parse(start, "--from", False), parse(end, "--to", True)
    if t1 <= t0:
        raise InputError(f"--to {end} is before --from {start}", field="--to")
    return t0, t1


def _step_s(index: pd.DatetimeIndex) -> float:
    if len(index) < 2:
        return 300.0
    return float(index.to_series().diff().median().total_seconds())


def _period(
    label: str,
    t0: pd.Timestamp,
    t1: pd.Timestamp,
    zone: Zone,
    flows: pd.DataFrame,
    amr: pd.DataFrame,
    azp: pd.Series,
    billing: Billing | None,
    opt: BalanceOptions,
) -> PeriodBalance:
    """Volumes and balance of [t0, t1); billing is summed over the calendar months it covers."""
    notes: list[str] = []
    step = _step_s(pd.DatetimeIndex(flows.index))
    inflow = flows["inflow"][(flows.index >= t0) & (flows.index < t1)]
    valid = inflow.dropna()
    covered_s = len(valid) * step
    span_s = (t1 - t0).total_seconds()
    coverage = covered_s / span_s
    covered_days = covered_s / 86400.0
    inflow_m3 = float(valid.sum() * step)
    pressure = azp[(azp.index >= t0) & (azp.index < t1)].dropna()
    p_mean = float(pressure.mean()) if len(pressure) else zone.average_pressure_m
    out = PeriodBalance(
        label,
        t0,
        t1,
        covered_days,
        coverage,
        inflow_m3,
        None,
        0,
        None,
        None,
        None,
        p_mean,
        None,
        None,
        notes,
    )
    if covered_s == 0:
        notes.append("no inflow readings: no balance")
        return out
    if coverage < 0.999:
        notes.append(f"telemetry covers {100 * coverage:.1f} % of the period ({covered_days:.2f} days)")
    if not amr.empty:
        sample = amr.reindex(valid.index)
        have = sample.columns[sample.notna().any()]
        if len(have):
            out.amr_meters = len(have)
            out.amr_m3 = float((sample[have].mean() * covered_s).sum())  # gaps: the meter's mean rate
            scale = max(zone.connections / len(have), 1.0)
            out.consumption_m3 = out.amr_m3 * scale
            if billing is None:
                out.sample_warning = sample_warning(len(have), zone.connections)
            if scale > 1.0:
                notes.append(
                    f"AMR covers {len(have)} of {zone.connections} connections: the other "
                    f"{zone.connections - len(have)} are taken to use the mean metered volume "
                    f"(AMR × {scale:.3f}, extrapolated part ±{opt.extrapolation_margin_pct:g} %)"
                )
    if billing is not None:
        months = pd.period_range(t0, t1 - pd.Timedelta(seconds=1), freq="M")
        metered = unmetered = 0.0
        for m in months:
            v = billing.volumes(zone.dmas, m)
            m0 = max(m.start_time.tz_localize("UTC"), t0)
            m1 = min((m + 1).start_time.tz_localize("UTC"), t1)
            in_month = inflow[(inflow.index >= m0) & (inflow.index < m1)].notna().sum() * step
            share = in_month / ((m + 1).start_time - m.start_time).total_seconds()
            metered += v.metered_m3 * share
            unmetered += v.unmetered_m3 * share
        out.billed_metered_m3, out.billed_unmetered_m3 = metered, unmetered
        if coverage < 0.999:
            notes.append("billed volumes pro-rated to the share of each month with telemetry")
        billed = Volume(metered, method="measured")
        billed_un = Volume(unmetered, method="estimated")
    elif out.consumption_m3 is not None and out.amr_m3 is not None:
        extra = out.consumption_m3 - out.amr_m3
        margin = math.hypot(opt.amr_margin_pct * out.amr_m3, opt.extrapolation_margin_pct * extra)
        pct = margin / out.consumption_m3 if out.consumption_m3 > 0 else opt.amr_margin_pct
        notes.append("no billing file: AMR consumption stands in for billed metered consumption")
        billed = Volume(
            out.consumption_m3, margin_pct=pct, method="measured" if extra == 0 else "estimated"
        )
        billed_un = Volume(0.0, method="estimated")
    else:
        notes.append("no consumption data (no AMR meters in the zone, no billing file): no balance")
        return out
    if inflow_m3 <= 0:
        notes.append(f"net inflow is {inflow_m3:,.0f} m³: no balance")
        return out
    inputs = BalanceInputs(
        own_sources=Volume(0.0),
        imported=Volume(inflow_m3, margin_pct=opt.inflow_margin_pct, method="measured"),
        exported=Volume(0.0),
        billed_metered=billed,
        billed_unmetered=billed_un,
        unbilled_metered=Volume(0.0),
        customer_meter_under_registration_pct=Volume(
            opt.customer_meter_under_registration_pct, method="default"
        ),
    )
    out.balance = compute_balance(inputs, covered_days)
    if p_mean is None or not p_mean > 0:
        notes.append("no average pressure (no pressure sensors, none in the DMA file): no UARL/ILI")
        return out
    system = SystemData(
        mains_length_km=zone.mains_length_km,
        connections=zone.connections,
        private_pipe_length_km=opt.night.private_pipe_length_km,
        average_pressure_m=p_mean,
        days=covered_days,
    )
    out.kpis = compute_kpis(out.balance, system, None, opt.scheme)
    return out


def dma_balance(
    store: Store,
    zone: Zone,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    billing: Billing | None = None,
    options: BalanceOptions | None = None,
) -> DmaBalance:
    """Read the zone's telemetry for [start, end) and build the monthly, period and night-flow results."""
    opt = options or BalanceOptions()
    data = read_zone(store, zone, start, end)
    if data["meters"].empty:
        raise InputError(
            f"no readings of the inflow meters ({', '.join(m.sensor for m in zone.meters)}) "
            f"between {start:%Y-%m-%d} and {end:%Y-%m-%d} in the store",
            field="--from",
        )
    flows = zone_inflow(zone, data["meters"], data["levels"])
    pressure = data["pressure"]
    azp = (
        pressure.mean(axis=1)
        if not pressure.empty
        else pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))  # comparable with times
    )
    warnings: list[str] = []
    if billing is not None and not set(zone.dmas) & billing.dmas():
        warnings.append(f"the billing file has no rows for DMA {', '.join(zone.dmas)}")
    months = []
    for m in pd.period_range(start, end - pd.Timedelta(seconds=1), freq="M"):
        m0 = max(m.start_time.tz_localize("UTC"), start)
        m1 = min((m + 1).start_time.tz_localize("UTC"), end)
        months.append(_period(str(m), m0, m1, zone, flows, data["amr"], azp, billing, opt))
    total = _period("total", start, end, zone, flows, data["amr"], azp, billing, opt)
    amr = data["amr"]
    night_use = None
    if not amr.empty and amr.notna().any().any():
        # AMR sample scaled to all connections: mean metered use per connection × connections
        night_use = amr.mean(axis=1) * max(zone.connections, int(amr.notna().any().sum()))
    nf = None
    try:
        nf = night_flow(
            flows["inflow"],
            pressure,
            zone.connections,
            zone.mains_length_km,
            opt.night,
            average_pressure_m=zone.average_pressure_m,
            night_use_m3s=night_use,
        )
    except InputError as exc:
        warnings.append(f"night-flow analysis not done: {exc}")
    return DmaBalance(zone, start, end, months, total, nf, flows, opt, warnings)


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _period_dict(p: PeriodBalance) -> dict[str, Any]:
    out: dict[str, Any] = {
        "period": p.label,
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        "covered_days": p.covered_days,
        "coverage": p.coverage,
        "inflow_m3": p.inflow_m3,
        "amr_m3": p.amr_m3,
        "amr_meters": p.amr_meters,
        "consumption_m3": p.consumption_m3,
        "billed_metered_m3": p.billed_metered_m3,
        "billed_unmetered_m3": p.billed_unmetered_m3,
        "average_pressure_m": _num(p.average_pressure_m),
        "notes": list(p.notes),
    }
    if p.balance is not None:
        comps = p.balance.components()
        out.update({name: c.value for name, c in comps.items()})
        out["components"] = {name: c.to_dict() for name, c in comps.items()}
        out["nrw_pct"] = 100.0 * p.balance.non_revenue_water.value / p.balance.system_input_volume.value
    if p.kpis is not None:
        out.update(kpis_to_dict(p.kpis))
    out["kpi_warnings"] = kpi_warnings(
        out.get("nrw_pct"), out.get("real_losses"), out.get("ili"), [p.sample_warning]
    )
    return out


def _nightflow_dict(nf: NightFlow) -> dict[str, Any]:
    s = nf.summary
    nightly = nf.nightly.copy()
    nightly.index = nightly.index.strftime("%Y-%m-%d")
    return {
        "window": f"{nf.options.start}–{nf.options.end} ({nf.options.tz})",
        "mnf_m3h": nf.mnf_m3h,
        "legitimate_night_use_m3h": nf.lnu_m3h,
        "legitimate_night_use_from": "AMR (scaled to all connections)"
        if nf.lnu_measured
        else "per property",
        "household_l_per_property_h": nf.options.household_l_per_property_h,
        "night_leakage_m3h": s.night_leakage_m3_h,
        "n1": nf.options.n1,
        "ndf_h": s.ndf_h,
        "daily_leakage_m3d": s.daily_leakage_m3_d,
        "daily_leakage_l_per_conn_d": s.daily_leakage_l_per_conn_d,
        "average_zone_pressure_m": s.average_zone_pressure_m,
        "uarl_m3d": s.uarl_m3_d,
        "ili": _num(s.ili),
        "real_losses_m3": nf.real_losses_m3,
        "azp_profile_m": nf.azp_profile_m,
        "nightly": [
            {"night": k, **{c: _num(v) for c, v in row.items()}} for k, row in nightly.iterrows()
        ],
        "mnf_p20_m3h": {k.strftime("%Y-%m-%d"): float(v) for k, v in nf.mnf_p20_m3h.items()},
        "what_ifs": [w.__dict__.copy() for w in nf.what_ifs],
        "warnings": list(nf.warnings),
    }


def dma_balance_report(result: DmaBalance) -> dict[str, Any]:
    """One JSON-ready dict: the zone, every month, the period total and the night-flow analysis."""
    z = result.zone
    return {
        "dma": z.name,
        "dmas": list(z.dmas),
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "inflow_formula": z.formula,
        "meters": [m.__dict__.copy() for m in z.meters],
        "tanks": [t.__dict__.copy() for t in z.tanks],
        "connections": z.connections,
        "mains_length_km": z.mains_length_km,
        "pressure_sensors": len(z.pressure_sensors),
        "amr_sensors": len(z.amr_sensors),
        "notes": list(z.notes),
        "months": [_period_dict(m) for m in result.months],
        "total": _period_dict(result.total),
        "nightflow": None if result.nightflow is None else _nightflow_dict(result.nightflow),
        "warnings": list(result.warnings),
    }
