"""Typed query parameters the OpenAPI document describes exactly: times, months, sensor lists.

What a parameter's schema admits, the API accepts; what it refuses, the API answers with 400 or
422. Times are RFC 3339 date-times or ISO dates (UTC when no offset); months ``YYYY-MM``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from fastapi import Query

from tirta.errors import InputError

__all__ = [
    "MONTH_PATTERN",
    "SENSORS_PATTERN",
    "TIME_SCHEMA",
    "api_time",
    "time_query",
]

#: a month ``YYYY-MM`` of 1900–2199 (the ends of a balance period)
MONTH_PATTERN = r"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$"
#: comma-separated sensor ids, no blanks
SENSORS_PATTERN = r"^[^,\s]+(,[^,\s]+)*$"
#: an RFC 3339 date-time (``2021-01-01T00:00:00Z``) or a date (``2021-01-01``, midnight UTC)
TIME_SCHEMA: dict[str, Any] = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]}

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def time_query(description: str, alias: str | None = None) -> Any:
    """A ``Query`` for a time parameter with :data:`TIME_SCHEMA`."""
    return Query(alias=alias, max_length=40, description=description, json_schema_extra=TIME_SCHEMA)


def _clamp(value: datetime) -> pd.Timestamp:
    """A UTC timestamp; times beyond what a timestamp holds (before 1677, after 2262) become its ends."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    low, high = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-01-01")  # a margin for ± a few days
    if utc < low.to_pydatetime():
        return low.tz_localize("UTC")
    if utc > high.to_pydatetime():
        return high.tz_localize("UTC")
    return pd.Timestamp(utc).tz_localize("UTC")


def api_time(text: str, field: str) -> pd.Timestamp:
    """Parse a time parameter strictly as its schema says; InputError naming ``field`` else."""
    value = text.strip()
    try:
        if _DATE.match(value):
            d = date.fromisoformat(value)
            return _clamp(datetime(d.year, d.month, d.day, tzinfo=UTC))
        match = _RFC3339.match(value)
        if match:
            day, clock, frac, zone = match.groups()
            if clock.endswith(":60"):  # a leap second: the last whole second before it
                clock = clock[:-2] + "59"
            zone = "+00:00" if zone in ("Z", "z") else zone
            frac = (frac or "")[:7]
            return _clamp(datetime.fromisoformat(f"{day}T{clock}{frac}{zone}"))
    except ValueError:
        pass
    raise InputError(
        f"expected an RFC 3339 time (2021-01-01T00:00:00Z) or a date (2021-01-01), got '{text}'",
        field=field,
    )
