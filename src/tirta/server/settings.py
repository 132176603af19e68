"""Settings of the serve process's runtime: schedules, calibration window, MQTT; built on demand.

Values come from explicit arguments (CLI flags), then ``TIRTA_*`` environment variables, then defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import pandas as pd

from tirta.errors import InputError
from tirta.telemetry.schema import utc_time

__all__ = ["RuntimeSettings", "parse_duration", "runtime_settings"]

_UNITS = {"": 1.0, "s": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class RuntimeSettings:
    """What the process runtime does besides serving requests (times in seconds, UTC)."""

    detect_every_s: float = 300.0  # live leak detection, wall-clock period
    detect_window_days: float = 14.0  # watched window before "now"; 0 = everything since calibration
    train: tuple[pd.Timestamp, pd.Timestamp] | None = None  # leak-free calibration window
    detect_workers: int = 0  # localisation processes; 0 runs it in the server process
    nightly_at: time = time(2, 30)  # night-flow and balance per DMA, once a day at this clock time
    balance_days: float = 7.0  # days the nightly balance covers, ending at the last midnight
    billing: Path | None = None  # billing CSV for the nightly balance (else AMR meters)
    mqtt_url: str | None = None
    mqtt_topics: tuple[str, ...] = ("tirta/+/readings",)
    mqtt_client_id: str = "tirta-serve"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    tick_s: float = 0.25  # how often the scheduler looks for due jobs
    alerts_file: Path | None = None  # ALERTS.toml: e-mail and webhook alerts (TIRTA_ALERTS_FILE)
    alerts_every_s: float = 30.0  # how often the alert rules are checked
    balance_workers: int = 0  # nightly balance: each DMA a task of this many processes (PostgreSQL)
    dask_scheduler: str | None = None  # … or of this Dask cluster (TIRTA_DASK_SCHEDULER)


def parse_duration(text: str | float, name: str) -> float:
    """Seconds from ``300``, ``300s``, ``5min``, ``2h`` or ``1d``; InputError naming ``name`` else."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d)?\s*", text.lower())
        if not match:
            raise InputError(f"expected a duration such as 300, 30s, 5min, 2h, got '{text}'", field=name)
        value = float(match.group(1)) * _UNITS[match.group(2) or ""]
    if value <= 0:
        raise InputError("must be positive", field=name)
    return value


def _clock_time(text: str, name: str) -> time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InputError(f"expected a time of day HH:MM, got '{text}'", field=name)
    return time(int(match.group(1)), int(match.group(2)))


def _window_days(text: str | None, default: float) -> float:
    """``TIRTA_DETECT_WINDOW`` in days: a duration (``14d``, ``72h``), ``0`` for all since calibration."""
    if text is None or text.strip() == "":
        return default
    if text.strip() == "0":
        return 0.0
    return parse_duration(text, "TIRTA_DETECT_WINDOW") / 86400.0


def _whole(text: str, name: str) -> int:
    if not text.strip().isdigit():
        raise InputError(f"expected a whole number, got '{text}'", field=name)
    return int(text)


def runtime_settings(
    *,
    detect_every: str | float | None = None,
    train: tuple[str | pd.Timestamp, str | pd.Timestamp] | None = None,
    mqtt_url: str | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: object,
) -> RuntimeSettings:
    """Runtime settings from explicit values, else ``TIRTA_DETECT_EVERY``, ``TIRTA_DETECT_WINDOW``,
    ``TIRTA_TRAIN_FROM``/``TIRTA_TRAIN_TO``, ``TIRTA_DETECT_WORKERS``, ``TIRTA_NIGHTLY_AT``,
    ``TIRTA_BALANCE_DAYS`` (days), ``TIRTA_BILLING``, ``TIRTA_ALERTS_FILE``,
    ``TIRTA_BALANCE_WORKERS``, ``TIRTA_DASK_SCHEDULER``, ``TIRTA_MQTT_URL``, ``TIRTA_MQTT_TOPICS`` (comma
    separated), ``TIRTA_MQTT_CLIENT_ID``, ``TIRTA_MQTT_USERNAME``, ``TIRTA_MQTT_PASSWORD``."""
    e = os.environ if env is None else env
    base = RuntimeSettings()
    every = detect_every or e.get("TIRTA_DETECT_EVERY") or base.detect_every_s
    window = e.get("TIRTA_DETECT_WINDOW")
    t0, t1 = train if train is not None else (e.get("TIRTA_TRAIN_FROM"), e.get("TIRTA_TRAIN_TO"))
    if bool(t0) != bool(t1):
        raise InputError("give both ends of the calibration window", field="TIRTA_TRAIN_TO")
    window_t = (
        (utc_time(str(t0), "TIRTA_TRAIN_FROM"), utc_time(str(t1), "TIRTA_TRAIN_TO"))
        if t0 and t1
        else None
    )
    if window_t is not None and window_t[1] <= window_t[0]:
        raise InputError("the calibration window ends before it starts", field="TIRTA_TRAIN_TO")
    topics = e.get("TIRTA_MQTT_TOPICS")
    billing = e.get("TIRTA_BILLING")
    workers = e.get("TIRTA_DETECT_WORKERS", "0")
    if not workers.isdigit():
        raise InputError(f"expected a whole number, got '{workers}'", field="TIRTA_DETECT_WORKERS")
    values: dict[str, object] = {
        "detect_every_s": parse_duration(every, "TIRTA_DETECT_EVERY"),
        "detect_window_days": _window_days(window, base.detect_window_days),
        "train": window_t,
        "detect_workers": int(workers),
        "nightly_at": _clock_time(e.get("TIRTA_NIGHTLY_AT", "02:30"), "TIRTA_NIGHTLY_AT"),
        "balance_days": parse_duration(e.get("TIRTA_BALANCE_DAYS", "7"), "TIRTA_BALANCE_DAYS"),
        "billing": Path(billing) if billing else None,
        "alerts_file": Path(e["TIRTA_ALERTS_FILE"]) if e.get("TIRTA_ALERTS_FILE") else None,
        "balance_workers": _whole(e.get("TIRTA_BALANCE_WORKERS", "0"), "TIRTA_BALANCE_WORKERS"),
        "dask_scheduler": e.get("TIRTA_DASK_SCHEDULER") or None,
        "mqtt_url": mqtt_url or e.get("TIRTA_MQTT_URL") or None,
        "mqtt_topics": tuple(t.strip() for t in topics.split(",") if t.strip())
        if topics
        else base.mqtt_topics,
        "mqtt_client_id": e.get("TIRTA_MQTT_CLIENT_ID") or base.mqtt_client_id,
        "mqtt_username": e.get("TIRTA_MQTT_USERNAME") or None,
        "mqtt_password": e.get("TIRTA_MQTT_PASSWORD") or None,
    }
    values.update(overrides)
    return RuntimeSettings(**values)  # type: ignore[arg-type]
