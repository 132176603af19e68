"""The alerts file (ALERTS.toml): channels, subscriptions by role and rule, quiet hours, thresholds.

Every key is checked (unknown keys refused, secrets only by environment variable name) so a typo
never silently drops a control room's alarms.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Final

from tirta.errors import InputError

__all__ = [
    "RULES",
    "AlertsConfig",
    "Channel",
    "Subscription",
    "Thresholds",
    "load_alerts",
    "parse_alerts",
]

#: the rules an alert can come from, with what each means
RULES: Final[dict[str, str]] = {
    "leak.opened": "a new leak event was opened",
    "leak.unacknowledged": "a leak event is still open and unacknowledged after the set minutes",
    "leak.escalated": "a leak event's estimated size grew past the escalation factor",
    "sensor.silent": "a sensor sent nothing for the set minutes",
    "quality.flag": "a data-quality flag (stuck, spike, drift, gap) was stored",
    "job.failed": "a scheduled job of tirta serve failed",
    "compliance.breach": "a treatment plant's effluent breached its standard",
}
_CHANNEL_KEYS: Final = {
    "smtp": {
        "type",
        "host",
        "port",
        "tls",
        "username",
        "password_env",
        "from",
        "to",
        "ca_file",
        "timeout_s",
    },
    "webhook": {"type", "url", "secret_env", "retries", "backoff_s", "timeout_s", "ca_file"},
}


@dataclass(frozen=True)
class Channel:
    """Where notifications go: e-mail over SMTP or a signed webhook; secrets read from the environment."""

    name: str
    type: str
    options: dict[str, Any]

    def secret(self, key: str) -> str | None:
        """The secret whose environment variable the channel names (``password_env``, ``secret_env``)."""
        var = self.options.get(key)
        return os.environ.get(var) if var else None


@dataclass(frozen=True)
class Subscription:
    """Who gets what: a role (operator on duty, plant manager …), its rules, channel and quiet hours."""

    name: str
    role: str
    channel: str
    rules: tuple[str, ...]
    to: tuple[str, ...] = ()
    quiet: tuple[time, time] | None = None  # UTC; held notifications go out when the quiet time ends
    urgent_in_quiet: bool = True  # leak.opened breaks through quiet hours


@dataclass(frozen=True)
class Thresholds:
    """Minutes before an event counts as unacknowledged or a sensor as silent; escalation factor."""

    unacknowledged_min: float = 30.0
    silent_min: float = 60.0
    escalation_factor: float = 1.5
    max_attempts: int = 5


@dataclass(frozen=True)
class AlertsConfig:
    """The parsed alerts file."""

    channels: dict[str, Channel]
    subscriptions: list[Subscription]
    thresholds: Thresholds = field(default_factory=Thresholds)
    path: Path | None = None


def _clock(text: Any, fld: str, file: Path | None) -> time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InputError(f"expected HH:MM, got {text!r}", file=file, field=fld)
    return time(int(match.group(1)), int(match.group(2)))


def _positive(value: Any, fld: str, file: Path | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InputError(f"expected a positive number, got {value!r}", file=file, field=fld)
    return float(value)


def _channel(name: str, raw: Any, file: Path | None) -> Channel:
    fld = f"channels.{name}"
    if not isinstance(raw, Mapping):
        raise InputError("expected a table", file=file, field=fld)
    kind = raw.get("type")
    if kind not in _CHANNEL_KEYS:
        raise InputError(f"type must be smtp or webhook, got {kind!r}", file=file, field=f"{fld}.type")
    for key in raw:
        if key not in _CHANNEL_KEYS[kind]:
            raise InputError(
                f"unknown key; expected one of {', '.join(sorted(_CHANNEL_KEYS[kind]))}",
                file=file,
                field=f"{fld}.{key}",
            )
    need = ("host", "from") if kind == "smtp" else ("url",)
    for key in need:
        if not raw.get(key):
            raise InputError("missing key", file=file, field=f"{fld}.{key}")
    if kind == "smtp" and raw.get("tls", "starttls") not in ("starttls", "ssl", "none"):
        raise InputError("tls must be starttls, ssl or none", file=file, field=f"{fld}.tls")
    if kind == "webhook" and not str(raw["url"]).startswith(("http://", "https://")):
        raise InputError("expected an http(s) URL", file=file, field=f"{fld}.url")
    for key in ("port", "retries", "backoff_s", "timeout_s"):
        if key in raw:
            _positive(raw[key], f"{fld}.{key}", file)
    return Channel(name, str(kind), dict(raw))


def _subscription(i: int, raw: Any, channels: Mapping[str, Channel], file: Path | None) -> Subscription:
    fld = f"subscriptions[{i}]"
    if not isinstance(raw, Mapping):
        raise InputError("expected a table", file=file, field=fld)
    known = {"name", "role", "channel", "rules", "to", "quiet_hours", "urgent_in_quiet"}
    for key in raw:
        if key not in known:
            raise InputError(
                f"unknown key; expected one of {', '.join(sorted(known))}",
                file=file,
                field=f"{fld}.{key}",
            )
    channel = str(raw.get("channel"))
    if channel not in channels:
        raise InputError(
            f"unknown channel {channel!r}; defined: {', '.join(channels) or 'none'}",
            file=file,
            field=f"{fld}.channel",
        )
    rules = raw.get("rules", list(RULES))
    if not isinstance(rules, list) or not rules:
        raise InputError("expected a list of rules", file=file, field=f"{fld}.rules")
    for rule in rules:
        if rule not in RULES:
            raise InputError(
                f"unknown rule {rule!r}; expected one of {', '.join(RULES)}",
                file=file,
                field=f"{fld}.rules",
            )
    to = raw.get("to", channels[channel].options.get("to", []))
    if isinstance(to, str):
        to = [to]
    if channels[channel].type == "smtp" and not to:
        raise InputError("an e-mail subscription needs 'to' addresses", file=file, field=f"{fld}.to")
    quiet = None
    if "quiet_hours" in raw:
        parts = str(raw["quiet_hours"]).split("-")
        if len(parts) != 2:
            raise InputError("expected HH:MM-HH:MM (UTC)", file=file, field=f"{fld}.quiet_hours")
        quiet = (
            _clock(parts[0], f"{fld}.quiet_hours", file),
            _clock(parts[1], f"{fld}.quiet_hours", file),
        )
    return Subscription(
        name=str(raw.get("name", f"{raw.get('role', 'subscription')}-{i}")),
        role=str(raw.get("role", "operator")),
        channel=str(channel),
        rules=tuple(rules),
        to=tuple(str(t) for t in to),
        quiet=quiet,
        urgent_in_quiet=bool(raw.get("urgent_in_quiet", True)),
    )


def parse_alerts(doc: Mapping[str, Any], file: Path | None = None) -> AlertsConfig:
    """An :class:`AlertsConfig` from a parsed TOML document; InputError names the first bad key."""
    for key in doc:
        if key not in ("channels", "subscriptions", "thresholds"):
            raise InputError(
                "unknown section; expected channels, subscriptions, thresholds", file=file, field=key
            )
    raw_channels = doc.get("channels", {})
    if not isinstance(raw_channels, Mapping) or not raw_channels:
        raise InputError("define at least one channel", file=file, field="channels")
    channels = {name: _channel(name, raw, file) for name, raw in raw_channels.items()}
    subs = doc.get("subscriptions", [])
    if not isinstance(subs, list) or not subs:
        raise InputError("define at least one [[subscriptions]]", file=file, field="subscriptions")
    th = doc.get("thresholds", {})
    known = {"unacknowledged_min", "silent_min", "escalation_factor", "max_attempts"}
    for key in th:
        if key not in known:
            raise InputError(
                f"unknown key; expected one of {', '.join(sorted(known))}",
                file=file,
                field=f"thresholds.{key}",
            )
    base = Thresholds()
    thresholds = Thresholds(
        **{
            k: (int if k == "max_attempts" else float)(
                _positive(th.get(k, getattr(base, k)), f"thresholds.{k}", file)
            )
            for k in known
        }  # type: ignore[arg-type]
    )
    return AlertsConfig(
        channels, [_subscription(i, s, channels, file) for i, s in enumerate(subs)], thresholds, file
    )


def load_alerts(path: str | Path) -> AlertsConfig:
    """Read and check an ALERTS.toml file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("alerts file not found", file=p)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=p) from None
    return parse_alerts(doc, p)
