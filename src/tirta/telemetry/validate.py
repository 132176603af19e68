"""Validation of incoming readings, the one gate every ingestion path goes through.

Raw records (sensor, time, value, unit as received) become readings in SI and UTC, or quarantine rows
with the raw payload and a reason. Vectorised over the whole batch; no loop per reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tirta.errors import InputError, UnitError
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.schema import QUARANTINE_COLUMNS, READING_COLUMNS
from tirta.units import parse_unit

__all__ = ["FUTURE_TOLERANCE", "Validated", "sensor_table", "validate"]

FUTURE_TOLERANCE = pd.Timedelta(minutes=5)
_NONFINITE_TEXT = {"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


@dataclass
class Validated:
    """A validated batch: ``readings`` (sensor, time UTC, value SI), ``quarantine`` rows, and the
    number of exact repeats of a reading within the batch (``duplicates``, dropped, nothing lost)."""

    readings: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: int

    def reasons(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.quarantine["reason"].value_counts().items()}


def sensor_table(registry: SensorRegistry) -> pd.DataFrame:
    """The registry as a frame indexed by sensor id: quantity, valid_min, valid_max (SI), installed (UTC)."""
    rows = [(s.id, s.quantity, s.valid_min, s.valid_max, s.installed) for s in registry]
    table = pd.DataFrame(rows, columns=["id", "quantity", "valid_min", "valid_max", "installed"])
    table["installed"] = pd.to_datetime(table["installed"], utc=True)
    return table.set_index("id")


def _times(values: pd.Series) -> pd.Series:
    """UTC times, NaT where unparsable; naive times are taken as UTC, numbers as Unix seconds."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    text = values.astype("string").str.strip()
    return pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as floats and a mask of entries that are not numbers at all (text, empty, missing).

    In a numeric column NaN means a missing value; in text, ``nan`` and ``inf`` are numbers, not finite.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        return numbers, np.isnan(numbers)
    text = values.astype("string").str.strip()
    parsed = pd.to_numeric(text, errors="coerce").astype(float).to_numpy(dtype=float, na_value=np.nan)
    literal = text.str.lower().isin(_NONFINITE_TEXT).fillna(False).to_numpy(dtype=bool)
    return parsed, np.isnan(parsed) & ~literal


def _factors(units: pd.Series, quantities: pd.Series) -> np.ndarray:
    """Factor to SI per row for (unit, quantity) pairs; NaN when the unit does not measure the quantity."""
    keys = units.fillna("") + "\x00" + quantities.fillna("")
    table: dict[str, float] = {}
    for key in pd.unique(keys):
        unit, quantity = key.split("\x00")
        try:
            table[key] = parse_unit(unit, quantity).factor if unit and quantity else np.nan
        except UnitError:
            table[key] = np.nan
    return keys.map(table).to_numpy(dtype=float)


def validate(
    raw: pd.DataFrame,
    registry: SensorRegistry | pd.DataFrame,
    *,
    source: str,
    now: pd.Timestamp | None = None,
    received_at: pd.Timestamp | None = None,
) -> Validated:
    """Check raw records against the registry; return SI readings and quarantine rows with reasons.

    ``raw`` has columns sensor, time, value, unit (as received) and optionally payload (the raw text to
    keep for rejected rows; default: the record's fields as JSON). Checks, first failing one wins:
    unknown sensor, bad timestamp, not a number, not finite, unit missing, unit not convertible, out of
    range (SI), future (more than 5 min after ``now``), before installed; then repeats of a
    (sensor, time) in the batch: exact repeats are counted, conflicting ones quarantined.
    """
    missing = [c for c in ("sensor", "time", "value", "unit") if c not in raw.columns]
    if missing:
        raise InputError(f"records lack the column '{missing[0]}'", field=missing[0])
    table = registry if isinstance(registry, pd.DataFrame) else sensor_table(registry)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    received_at = now if received_at is None else received_at
    raw = raw.reset_index(drop=True)

    sensor = raw["sensor"].astype("string").str.strip().fillna("")
    known = sensor.isin(table.index).to_numpy()
    info = table.reindex(sensor.to_numpy())
    times = _times(raw["time"])
    values, not_number = _numbers(raw["value"])
    unit = raw["unit"].astype("string").str.strip().fillna("")
    factor = _factors(unit, info["quantity"].reset_index(drop=True).astype("string"))
    value_si = values * factor
    vmin, vmax = info["valid_min"].to_numpy(dtype=float), info["valid_max"].to_numpy(dtype=float)
    installed = info["installed"].reset_index(drop=True)
    t = times.reset_index(drop=True)

    checks = [
        ("unknown sensor", ~known),
        ("bad timestamp", t.isna().to_numpy()),
        ("not a number", not_number),
        ("not finite", ~np.isfinite(values)),
        ("unit missing", (unit == "").to_numpy()),
        ("unit not convertible", np.isnan(factor)),
        ("out of range", (value_si < vmin) | (value_si > vmax)),
        ("future", (t > now + FUTURE_TOLERANCE).fillna(False).to_numpy(dtype=bool)),
        ("before installed", (t < installed).fillna(False).to_numpy(dtype=bool)),
    ]
    reason = np.select([m for _, m in checks], [r for r, _ in checks], default="")

    ok = reason == ""
    good = pd.DataFrame({"sensor": sensor[ok].to_numpy(object), "time": t[ok], "value": value_si[ok]})
    good.index = np.flatnonzero(ok)
    repeat = good.duplicated(["sensor", "time"], keep="first")
    first_value = good.groupby(["sensor", "time"], sort=False)["value"].transform("first")
    conflict = repeat & (good["value"] != first_value)
    reason[good.index[conflict.to_numpy()]] = "duplicate in batch"
    readings = good.loc[~repeat, list(READING_COLUMNS)].reset_index(drop=True)
    readings["time"] = readings["time"].astype("datetime64[us, UTC]")

    rejected = np.flatnonzero(reason != "")
    quarantine = _quarantine_rows(raw, rejected, reason, source, received_at, sensor, info, now)
    return Validated(readings, quarantine, int((repeat & ~conflict).sum()))


def _quarantine_rows(
    raw: pd.DataFrame,
    rows: np.ndarray,
    reason: np.ndarray,
    source: str,
    received_at: pd.Timestamp,
    sensor: pd.Series,
    info: pd.DataFrame,
    now: pd.Timestamp,
) -> pd.DataFrame:
    if "payload" in raw.columns:
        payload = raw["payload"].iloc[rows].astype("string").fillna("").to_numpy(object)
    elif len(rows):
        fields = raw.iloc[rows].astype("string")
        payload = np.asarray(fields.to_json(orient="records", lines=True).splitlines(), dtype=object)
    else:
        payload = np.empty(0, dtype=object)
    why = pd.Series(reason[rows], dtype=object)
    detail = _details(raw.iloc[rows].reset_index(drop=True), why, info.iloc[rows].reset_index(drop=True))
    return pd.DataFrame(
        {
            "received_at": pd.Series([received_at] * len(rows), dtype="datetime64[us, UTC]"),
            "source": source,
            "sensor": sensor.iloc[rows].to_numpy(object),
            "payload": payload,
            "reason": why,
            "detail": detail,
        },
        columns=list(QUARANTINE_COLUMNS),
    )


def _details(raw: pd.DataFrame, reason: pd.Series, info: pd.DataFrame) -> pd.Series:
    """One human sentence per rejected record, built per reason over the whole column."""
    text = raw.astype("string").fillna("")
    q = info["quantity"].astype("string").fillna("?").reset_index(drop=True)
    lo = info["valid_min"].astype("string").fillna("?").reset_index(drop=True)
    hi = info["valid_max"].astype("string").fillna("?").reset_index(drop=True)
    inst = info["installed"].astype("string").fillna("?").reset_index(drop=True)
    phrases: dict[str, pd.Series | str] = {
        "unknown sensor": "sensor '" + text["sensor"] + "' is not registered",
        "bad timestamp": "cannot parse time '" + text["time"] + "'",
        "not a number": "value '" + text["value"] + "' is not a number",
        "not finite": "value '" + text["value"] + "' is not finite",
        "unit missing": "unit missing for a " + q + " reading",
        "unit not convertible": "unit '" + text["unit"] + "' does not convert to " + q,
        "out of range": "value "
        + text["value"]
        + " "
        + text["unit"]
        + " outside ["
        + lo
        + ", "
        + hi
        + "] (SI)",
        "future": "time " + text["time"] + " is more than 5 min in the future",
        "before installed": "time " + text["time"] + " is before installation at " + inst,
        "duplicate in batch": "another value for this sensor and time came earlier in the batch",
    }
    detail = pd.Series("", index=reason.index, dtype=object)
    for why, phrase in phrases.items():
        mask = (reason == why).to_numpy()
        if mask.any():
            detail[mask] = phrase if isinstance(phrase, str) else phrase[mask].to_numpy(object)
    return detail
