"""Weighbridge tonnage records (``date,site,stream,tonnes``), validated like readings.

Each row is checked (date, known site, known stream, a finite non-negative mass, no duplicate); strict
loading raises the first fault with its file, line and field, lenient loading keeps the valid rows and
quarantines the rest with the raw line and the reason. Nothing is kept from a strict load that fails.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tirta.errors import InputError

__all__ = [
    "CATEGORIES",
    "STREAMS",
    "Site",
    "Tonnage",
    "load_sites",
    "load_sites_file",
    "load_tonnage",
    "parse_tonnage",
    "waste_history",
]

#: stream → where its mass ended up (the fate KPIs are computed from)
STREAMS: dict[str, str] = {
    "mixed": "landfill",  # unsorted mixed waste tipped at a landfill
    "residual": "landfill",  # rejects and residual waste after sorting, landfilled
    "recyclable_paper": "recycling",
    "recyclable_plastic": "recycling",
    "recyclable_glass": "recycling",
    "recyclable_metal": "recycling",
    "recyclable_other": "recycling",
    "organics": "composting",  # composted or anaerobically digested
    "incinerated": "energy_recovery",
}
CATEGORIES = ("recycling", "composting", "energy_recovery", "landfill")
SITE_KINDS = ("landfill", "transfer", "sorting", "composting", "incinerator", "collection")
COLUMNS = ("date", "site", "stream", "tonnes")


@dataclass(frozen=True)
class Site:
    """A weighbridge site: id, display name, kind and, optionally, the population it serves."""

    id: str
    name: str
    kind: str
    population: float | None = None


@dataclass(frozen=True)
class Tonnage:
    """Valid records (date as UTC-naive day, site, stream, category, tonnes, line) and quarantined rows."""

    records: pd.DataFrame
    quarantine: pd.DataFrame
    source: str

    def reasons(self) -> dict[str, int]:
        """Quarantined rows counted by reason."""
        return {str(k): int(v) for k, v in self.quarantine["reason"].value_counts().items()}

    def store_quarantine(self, received_at: pd.Timestamp | None = None) -> pd.DataFrame:
        """The quarantined rows in the telemetry store's quarantine shape (received_at, source, sensor,
        payload, reason, detail), ``sensor`` naming the site and stream, ``detail`` the line."""
        q = self.quarantine
        when = received_at if received_at is not None else pd.Timestamp.now(tz="UTC")
        site_stream = [_site_stream(str(p)) for p in q["payload"]]
        return pd.DataFrame(
            {
                "received_at": [when] * len(q),
                "source": q["source"].astype(str).to_numpy(object),
                "sensor": site_stream,
                "payload": q["payload"].to_numpy(object),
                "reason": q["reason"].to_numpy(object),
                "detail": [f"line {n}: {d}" for n, d in zip(q["line"], q["detail"], strict=True)],
            }
        )


def _site_stream(raw: str) -> str:
    """``tonnage:site/stream`` of a raw CSV line, as far as it can be read."""
    fields = next(csv.reader([raw]), [])
    site = fields[1].strip() if len(fields) > 1 else ""
    stream = fields[2].strip() if len(fields) > 2 else ""
    return f"tonnage:{site}/{stream}"


def load_sites(sites: list[Mapping[str, Any]], source: str | None = None) -> dict[str, Site]:
    """Sites from ``[[site]]`` tables (id, name, kind, population); errors name the field."""
    out: dict[str, Site] = {}
    for rec in sites:
        sid = str(rec.get("id") or "").strip()
        if not sid:
            raise InputError("site id missing", file=source, field="site.id")
        if sid in out:
            raise InputError(f"duplicate site id '{sid}'", file=source, field="site.id")
        kind = str(rec.get("kind", "collection"))
        if kind not in SITE_KINDS:
            raise InputError(
                f"unknown site kind '{kind}'; expected one of {SITE_KINDS}",
                file=source,
                field="site.kind",
            )
        pop = rec.get("population")
        if pop is not None and (isinstance(pop, bool) or not isinstance(pop, int | float) or pop <= 0):
            raise InputError(
                f"expected a positive number, got {pop!r}", file=source, field="site.population"
            )
        out[sid] = Site(sid, str(rec.get("name", sid)), kind, None if pop is None else float(pop))
    return out


def load_sites_file(path: str | Path) -> dict[str, Site]:
    """Sites from a TOML file holding ``[[site]]`` tables."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read sites file: {exc.strerror}", file=p) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=p) from None
    return load_sites(data.get("site", []), str(p))


def load_tonnage(
    path: str | Path, sites: Mapping[str, Site] | None = None, *, strict: bool = True
) -> Tonnage:
    """Read and validate TONNAGE.csv (``#`` lines are comments); see :func:`parse_tonnage`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read tonnage file: {exc.strerror}", file=p) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=p) from None
    return parse_tonnage(text, str(p), sites, strict=strict)


def parse_tonnage(
    text: str, source: str, sites: Mapping[str, Site] | None = None, *, strict: bool = True
) -> Tonnage:
    """Validate CSV text; ``sites`` (when given) lists the known sites. ``strict`` raises on the first
    faulty row (file, line, field); otherwise faulty rows are quarantined with their reason."""
    lines = text.splitlines()
    kept = [i for i, s in enumerate(lines, start=1) if s.strip() and not s.lstrip().startswith("#")]
    if not kept:
        raise InputError("empty file; expected a header date,site,stream,tonnes", file=source, line=1)
    rows = list(csv.reader(io.StringIO("\n".join(lines[i - 1] for i in kept))))
    header = [h.strip().lower() for h in rows[0]]
    for col in COLUMNS:
        if col not in header:
            raise InputError(
                f"header lacks the column '{col}'; expected date,site,stream,tonnes",
                file=source,
                line=kept[0],
                field=col,
            )
    body = rows[1:]
    width = len(header)
    frame = pd.DataFrame(
        [(r + [""] * width)[:width] for r in body], columns=header, dtype=object
    ).reindex(columns=[*COLUMNS, *(["ticket"] if "ticket" in header else [])])
    frame = frame.fillna("").astype(str).apply(lambda s: s.str.strip())
    frame["line"] = np.asarray(kept[1:], dtype=np.int64)
    frame["raw"] = [lines[i - 1] for i in kept[1:]]
    bad_width = np.array([len(r) != width for r in body], dtype=bool)
    return _check(frame, bad_width, source, sites, strict)


def _check(
    frame: pd.DataFrame,
    bad_width: np.ndarray,
    source: str,
    sites: Mapping[str, Site] | None,
    strict: bool,
) -> Tonnage:
    n = len(frame)
    reason = np.full(n, "", dtype=object)
    field = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, why: str, fld: str, what: pd.Series | np.ndarray | str) -> None:
        new = mask & (reason == "")
        reason[new] = why
        field[new] = fld
        detail[new] = np.asarray(what, dtype=object)[new] if not isinstance(what, str) else what

    mark(bad_width, "wrong number of fields", "", f"expected {len(COLUMNS)}+ comma-separated fields")
    dates = pd.to_datetime(frame["date"], errors="coerce", utc=True, format="mixed")
    mark(dates.isna().to_numpy(), "bad date", "date", "cannot parse the date '" + frame["date"] + "'")
    if sites is not None:
        unknown = ~frame["site"].isin(list(sites)).to_numpy()
        mark(unknown, "unknown site", "site", "unknown site '" + frame["site"] + "'")
    else:
        mark((frame["site"] == "").to_numpy(), "unknown site", "site", "site missing")
    stream = ~frame["stream"].isin(list(STREAMS)).to_numpy()
    mark(
        stream,
        "unknown stream",
        "stream",
        "unknown stream '" + frame["stream"] + f"'; expected one of {sorted(STREAMS)}",
    )
    tonnes = pd.to_numeric(frame["tonnes"], errors="coerce").to_numpy(dtype=float)
    mark(
        ~np.isfinite(tonnes),
        "not a number",
        "tonnes",
        "expected a number of tonnes, got '" + frame["tonnes"] + "'",
    )
    mark(tonnes < 0, "negative mass", "tonnes", "mass must not be negative, got " + frame["tonnes"])
    day = dates.dt.tz_convert(None).dt.normalize()
    ticket = frame["ticket"] if "ticket" in frame else pd.Series("", index=frame.index)
    key = ("T:" + ticket).where(
        ticket != "", "D:" + day.dt.strftime("%Y-%m-%d") + "|" + frame["site"] + "|" + frame["stream"]
    )
    ok = reason == ""
    first = frame["line"].where(ok).groupby(key).transform("min")
    dup = ok & (frame["line"] != first).to_numpy()
    what = np.where(ticket != "", "ticket '" + ticket + "'", "this date, site and stream")
    mark(
        dup,
        "duplicate",
        "date",
        "duplicate: "
        + pd.Series(what, index=frame.index)
        + " first came on line "
        + first.fillna(0).astype(int).astype(str),
    )
    bad = reason != ""
    if strict and bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            str(detail[i]), file=source, line=int(frame["line"].iat[i]), field=str(field[i]) or None
        )
    records = pd.DataFrame(
        {
            "date": day[~bad].dt.normalize().to_numpy(),
            "site": frame["site"].to_numpy(object)[~bad],
            "stream": frame["stream"].to_numpy(object)[~bad],
            "tonnes": tonnes[~bad],
            "line": frame["line"].to_numpy()[~bad],
        }
    )
    records["category"] = records["stream"].map(STREAMS)
    quarantine = pd.DataFrame(
        {
            "source": source,
            "line": frame["line"].to_numpy()[bad],
            "payload": frame["raw"].to_numpy(object)[bad],
            "reason": reason[bad],
            "field": field[bad],
            "detail": detail[bad],
        }
    )
    return Tonnage(
        records.sort_values(["date", "site", "stream"], ignore_index=True), quarantine, source
    )


def waste_history(
    records: pd.DataFrame, site: str | None = None, *, complete_only: bool = True
) -> pd.Series:
    """Landfilled tonnes per year (index year) at ``site`` (all sites when None): the waste-in-place
    history LandGEM needs. With ``complete_only`` a year counts only when all 12 months have records."""
    rec = records[records["category"] == "landfill"]
    if site is not None:
        rec = rec[rec["site"] == site]
    if rec.empty:
        return pd.Series(dtype=float)
    dates = pd.DatetimeIndex(rec["date"])
    by_year = rec.groupby(dates.year)["tonnes"].sum()
    if complete_only:
        months = pd.Series(dates.month, index=dates.year).groupby(level=0).nunique()
        by_year = by_year[months.reindex(by_year.index) == 12]
    by_year.index = by_year.index.astype(int)
    return by_year.astype(float)
