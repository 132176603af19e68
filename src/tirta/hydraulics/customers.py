"""Synthetic smart (AMR) meters of single customers, with planted customer-side leaks and meter faults.

Each customer is a household at a demand junction; its hourly use is a compound Poisson process
(draws of water of ~8 L) whose rate follows a residential day profile, so that nights are mostly
dry, as on real household meters; some customers are away for days. Planted events, each with its truth row:

- ``customer_leak``: a continuous flow behind the meter (a running toilet, a service-pipe leak);
- ``stopped``: the meter reads zero while water is used;
- ``under_registering``: the meter reads a fraction of the use;
- ``reverse_flow``: the meter counts backwards (mounted the wrong way round or back-flow);
- ``tampering``: the meter is stopped for blocks of hours on most days (a magnet, a bypass).

Readings are hourly volumes with the register's 1 L resolution; inside tirta they are m³/s.
The water of a customer's leak is not fed back into the hydraulic run (5–50 L/h is below 0.015 L/s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tirta.errors import InputError

__all__ = [
    "CUSTOMER_EVENT_KINDS",
    "LPH",
    "METER_FAULT_KINDS",
    "CustomerConfig",
    "CustomerData",
    "read_customer_truth",
    "read_customers",
    "simulate_customers",
    "write_customer_truth",
    "write_customers",
]

LPH = 1.0 / 3.6e6  # one L/h in m³/s
METER_FAULT_KINDS = ("stopped", "under_registering", "reverse_flow", "tampering")
CUSTOMER_EVENT_KINDS = ("customer_leak", *METER_FAULT_KINDS)
#: share of a household's daily use in each hour (UTC = local here), morning and evening peaks
DAY_PROFILE = np.array(
    [1, 0.5, 0.3, 0.3, 0.5, 2, 6, 9, 8, 6, 5, 5, 5.5, 5, 4, 4, 4.5, 6, 7.5, 7, 6, 4.5, 3, 1.5]
)
DAY_PROFILE = DAY_PROFILE / DAY_PROFILE.sum()
DRAW_L = 8.0  # mean volume of one draw (flush, tap, shower part), L


@dataclass(frozen=True)
class CustomerConfig:
    """How many customers, leaks and faults; leak flows (L/h) are drawn log-uniformly."""

    customers: int = 200
    leaks: int = 0
    faults: int = 0
    leak_lph: tuple[float, float] = (5.0, 50.0)
    litres_per_person_day: float = 130.0
    repair_probability: float = 0.3
    absence_share: float = 0.15  # customers away for 2-9 days once (a dry meter, not a fault)


@dataclass
class CustomerData:
    """Hourly meter readings (m³/s, time × customer), the customer list and the planted truth."""

    readings: pd.DataFrame
    customers: pd.DataFrame  # id, node, persons
    truth: pd.DataFrame  # customer, node, kind, start, end, flow_lph, factor


def simulate_customers(
    nodes: list[str],
    start: pd.Timestamp,
    hours: int,
    eval_from: pd.Timestamp,
    cfg: CustomerConfig,
    rng: np.random.Generator,
) -> CustomerData:
    """Simulate ``hours`` of hourly readings of ``cfg.customers`` households at ``nodes``; plant the
    leaks and faults after ``eval_from`` (each on its own customer)."""
    n = cfg.customers
    index = pd.date_range(start, periods=hours, freq="1h")
    ids = [f"c{i + 1:04d}" for i in range(n)]
    persons = rng.integers(1, 6, size=n)
    where = rng.choice(np.asarray(nodes), size=n) if nodes else np.array([""] * n)
    daily_l = persons * cfg.litres_per_person_day * rng.lognormal(0, 0.2, size=n)
    days = (np.arange(hours) // 24).astype(int)
    day_factor = rng.lognormal(0.0, 0.15, size=(days.max() + 1, n))[days]
    hour = np.asarray(index.hour)
    expected_l = DAY_PROFILE[hour][:, None] * daily_l[None, :] * day_factor
    draws = rng.poisson(expected_l / DRAW_L)
    use_l = rng.gamma(np.maximum(draws, 1), DRAW_L) * (draws > 0)
    for c in np.flatnonzero(rng.random(n) < cfg.absence_share):  # away: holidays, a second home
        a = int(rng.integers(0, max(1, hours - 48)))
        use_l[a : a + int(rng.integers(2 * 24, 9 * 24)), c] = 0.0
    read_l = use_l.copy()
    rows = []
    k = cfg.leaks + cfg.faults
    if k > n:
        k = n
    chosen = rng.choice(n, size=k, replace=False)
    i0 = int(np.searchsorted(index, eval_from))
    for j, c in enumerate(chosen):
        kind = "customer_leak" if j < cfg.leaks else str(rng.choice(METER_FAULT_KINDS))
        a = int(rng.integers(i0, max(i0 + 1, hours - 7 * 24)))
        b = hours
        if rng.random() < cfg.repair_probability:
            b = min(hours, a + int(rng.integers(7 * 24, 21 * 24)))
        span = slice(a, b)
        flow = factor = np.nan
        if kind == "customer_leak":
            lo, hi = np.log(cfg.leak_lph[0]), np.log(cfg.leak_lph[1])
            flow = float(np.exp(rng.uniform(lo, hi)))
            read_l[span, c] += flow
        elif kind == "stopped":
            read_l[span, c] = 0.0
        elif kind == "under_registering":
            factor = float(rng.uniform(0.3, 0.7))
            read_l[span, c] *= factor
        elif kind == "reverse_flow":
            read_l[span, c] = -read_l[span, c]
        else:  # tampering: the meter is held still for a block of hours on most days
            for d0 in range(a - a % 24, b, 24):
                if rng.random() < 0.7:
                    h0 = d0 + int(rng.integers(6, 16))
                    h1 = min(b, h0 + int(rng.integers(4, 9)))
                    if h0 >= a:
                        read_l[h0:h1, c] = 0.0
        rows.append(
            {
                "customer": ids[c],
                "node": str(where[c]),
                "kind": kind,
                "start": index[a],
                "end": index[b - 1],
                "flow_lph": None if np.isnan(flow) else round(flow, 2),
                "factor": None if np.isnan(factor) else round(factor, 3),
            }
        )
    readings = pd.DataFrame(np.round(read_l) * LPH, index=index, columns=ids)
    customers = pd.DataFrame({"id": ids, "node": where.astype(str), "persons": persons})
    truth = pd.DataFrame(
        rows, columns=["customer", "node", "kind", "start", "end", "flow_lph", "factor"]
    ).sort_values("start", ignore_index=True)
    return CustomerData(readings, customers, truth)


READINGS_FILE = "Customers.csv"  # hourly readings in L/h, ``;``-separated, ``Timestamp`` first
TRUTH_FILE = "customer_truth.csv"
TIME_FORMAT = "%Y-%m-%d %H:%M"


def write_customers(folder: str | Path, readings: pd.DataFrame) -> Path:
    """Write readings (m³/s) as ``Customers.csv`` in L/h, like the BattLeDIM ``Demands.csv``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    table = (readings / LPH).round(1)
    index = pd.DatetimeIndex(table.index)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    table.index = pd.Index(index.strftime(TIME_FORMAT), name="Timestamp")
    path = out / READINGS_FILE
    table.to_csv(path, sep=";", float_format="%.1f", na_rep="")
    return path


def read_customers(folder: str | Path) -> pd.DataFrame:
    """Hourly customer readings (m³/s, UTC index) from ``folder/Customers.csv`` (L/h) or that file."""
    path = Path(folder)
    if path.is_dir():
        path = path / READINGS_FILE
    try:
        raw = pd.read_csv(path, sep=";", index_col=0, dtype=str)
    except (OSError, pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"cannot read customer readings: {exc}", file=path) from None
    if raw.index.name is None or str(raw.index.name).strip().lower() != "timestamp":
        raise InputError("first column must be 'Timestamp'", file=path, line=1)
    times = pd.to_datetime(pd.Series(raw.index), format=TIME_FORMAT, errors="coerce")
    if times.isna().any():
        raise InputError("unparsable timestamp", file=path, line=int(times.isna().argmax()) + 2)
    values = raw.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise InputError("not a number", file=path, line=int(row) + 2, field=str(raw.columns[col]))
    values.index = pd.DatetimeIndex(times).tz_localize("UTC")
    return values * LPH


def read_customer_truth(path: str | Path) -> pd.DataFrame:
    """Planted customer events: customer, node, kind, start, end (UTC), flow_lph, factor."""
    p = Path(path)
    try:
        frame = pd.read_csv(p, dtype={"customer": str, "node": str, "kind": str})
    except (OSError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read customer truth: {exc}", file=p) from None
    for col in ("customer", "kind", "start", "end"):
        if col not in frame.columns:
            raise InputError(f"missing column '{col}'", file=p, line=1, field=col)
    for col in ("start", "end"):
        t = pd.to_datetime(frame[col], format=TIME_FORMAT, errors="coerce")
        if t.isna().any():
            raise InputError("unparsable time", file=p, line=int(t.isna().argmax()) + 2, field=col)
        frame[col] = t.dt.tz_localize("UTC")
    unknown = ~frame["kind"].isin(CUSTOMER_EVENT_KINDS)
    if unknown.any():
        raise InputError(
            f"unknown kind '{frame['kind'][unknown].iloc[0]}'",
            file=p,
            line=int(unknown.argmax()) + 2,
            field="kind",
        )
    return frame


def write_customer_truth(path: str | Path, truth: pd.DataFrame) -> Path:
    """Write planted customer events with times as ``YYYY-MM-DD HH:MM`` (UTC)."""
    table = truth.copy()
    for col in ("start", "end"):
        idx = pd.DatetimeIndex(table[col])
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        table[col] = idx.strftime(TIME_FORMAT)
    table.to_csv(path, index=False)
    return Path(path)
