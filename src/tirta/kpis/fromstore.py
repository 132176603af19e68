"""KPI inputs from the telemetry store: the DMA water balances of the period (inflow meters, billing or AMR)
summed over the network's DMAs give v_produced, v_exported, v_sold, v_sold_metered, carl, p_avg_m, n_conn_w
and len_mains_km. Inputs given in UTILITY.toml always win; each value records where it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd

from tirta.balance import Billing, dma_balance, resolve_zone
from tirta.errors import InputError
from tirta.kpis.compute import KpiSet, compute_kpis
from tirta.kpis.utility import UtilityInputs
from tirta.network import DMA, Network
from tirta.telemetry.store import Store

__all__ = ["StoreInputs", "kpis_with_store", "merge_inputs", "store_inputs"]


@dataclass(frozen=True)
class StoreInputs:
    """Input variables read from the store, with the DMAs used, the data coverage and notes."""

    values: dict[str, float]
    dmas: list[str]
    coverage: float  # smallest share of the period with inflow readings over the DMAs used
    notes: list[str] = field(default_factory=list)


def store_inputs(
    store: Store,
    network: Network,
    dmas: Sequence[DMA],
    inputs: UtilityInputs,
    billing: Billing | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StoreInputs:
    """Sum the period balances of the DMAs (a zone resolved twice, e.g. A+B, counts once)."""
    t0 = pd.Timestamp(inputs.start).tz_localize("UTC")
    t1 = pd.Timestamp(inputs.end + timedelta(days=1)).tz_localize("UTC")
    sums = dict.fromkeys(("v_produced", "v_exported", "v_sold", "v_sold_metered", "carl"), 0.0)
    conns = length = pressure_conn = 0.0
    used: list[str] = []
    seen: set[str] = set()
    notes: list[str] = []
    coverage = 1.0
    sensors = store.sensors()
    for n, dma in enumerate(dmas):
        if progress is not None:
            progress(n, len(dmas))
        if dma.name in seen:
            continue
        try:
            zone = resolve_zone(dma.name, list(dmas), sensors, network)
            if seen & set(zone.dmas):
                continue
            result = dma_balance(store, zone, t0, t1, billing=billing)
        except InputError as exc:
            notes.append(f"DMA {dma.name}: no balance ({exc.message})")
            continue
        total, bal = result.total, result.total.balance
        if bal is None:
            notes.append(f"DMA {zone.name}: no balance ({'; '.join(total.notes) or 'no consumption'})")
            continue
        seen |= set(zone.dmas)
        used.append(zone.name)
        sums["v_produced"] += bal.system_input_volume.value
        sums["v_exported"] += bal.exported.value
        sums["v_sold"] += bal.billed_metered.value + bal.billed_unmetered.value
        sums["v_sold_metered"] += bal.billed_metered.value
        sums["carl"] += bal.real_losses.value
        conns += zone.connections
        length += zone.mains_length_km
        if total.average_pressure_m is not None:
            pressure_conn += total.average_pressure_m * zone.connections
        coverage = min(coverage, total.coverage)
    if progress is not None:
        progress(len(dmas), len(dmas))
    if not used:
        return StoreInputs({}, [], 0.0, notes)
    values = dict(sums)
    if conns > 0:
        values["n_conn_w"] = conns
        if pressure_conn > 0:
            values["p_avg_m"] = pressure_conn / conns
    if length > 0:
        values["len_mains_km"] = length
    if coverage < 1.0:
        notes.append(f"the store's inflow readings cover {100 * coverage:.1f} % of the period")
    return StoreInputs(values, used, coverage, notes)


def merge_inputs(inputs: UtilityInputs, extra: StoreInputs) -> tuple[UtilityInputs, dict[str, str]]:
    """``inputs`` completed by the store's values (the file wins), and the source of every input."""
    sources = {k: "file" for k in inputs.values}
    values = dict(inputs.values)
    label = f"store: balances of DMA {', '.join(extra.dmas)}"
    for key, value in extra.values.items():
        if key not in values:
            values[key] = value
            sources[key] = label
    return dataclasses.replace(inputs, values=values), sources


def kpis_with_store(
    inputs: UtilityInputs,
    store: Store,
    network: Network,
    dmas: Sequence[DMA],
    billing: Billing | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> KpiSet:
    """The KPI set of ``inputs`` completed from the store's DMA balances; store inputs of a period the
    readings do not fully cover flag the indicators using them ``partial_data``."""
    extra = store_inputs(store, network, dmas, inputs, billing, progress)
    merged, sources = merge_inputs(inputs, extra)
    incomplete = (
        frozenset(k for k, s in sources.items() if s != "file") if extra.coverage < 1 else frozenset()
    )
    return compute_kpis(merged, sources, extra.notes, incomplete)
