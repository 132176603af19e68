"""A landfill's LandGEM input file and its yearly gas, power and avoided-emission figures.

INPUT.toml gives ``open_year``, ``close_year`` (last year waste is accepted), ``waste_t_per_year`` (a number
or a table year → t), ``k`` (1/yr), ``L0_m3_per_t``, ``methane_pct``, ``collection_efficiency`` and
``engine_efficiency`` (fractions); ``defaults = "caa" | "inventory"`` fills k, L0, CH4 % and NMOC.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.waste.landgem import (
    CH4_DENSITY_KG_M3,
    CH4_LHV_MJ_M3,
    as_number,
    check_positive,
    landgem_defaults,
    methane_by_year,
)

__all__ = [
    "Engine",
    "Landfill",
    "landfill_from_text",
    "landfill_years",
    "load_landfill",
    "parse_landfill",
]

SECONDS_PER_YEAR = 8760 * 3600.0
#: years modelled after closure when the file gives no ``end_year`` (the CLI contract asks ≥ 30)
YEARS_AFTER_CLOSE = 30
#: AP-42 §2.4 typical collection efficiency of a well-managed GCCS (landfill-gas.md §2): the modelled band
DEFAULT_BAND = (0.60, 0.85)
#: 100-year GWP of methane, IPCC AR5 WG1 Table 8.7 (without climate-carbon feedback)
GWP_CH4 = 28.0
_REQUIRED = ("open_year", "close_year", "collection_efficiency", "engine_efficiency")


@dataclass(frozen=True)
class Engine:
    """A gas engine's telemetry sensors in the store: gas flow to it, methane fraction, electric output."""

    id: str
    gas_flow: str
    methane: str
    power: str


@dataclass(frozen=True)
class Landfill:
    """Everything LandGEM and the power conversion need, in SI-like units named in the fields."""

    name: str
    open_year: int
    close_year: int
    waste_t: pd.Series  # waste accepted per year (index year), t
    k: float  # 1/yr
    l0_m3_per_t: float
    methane_pct: float
    collection_efficiency: float
    engine_efficiency: float
    availability: float = 0.9
    nmoc_ppmv: float = 4000.0
    end_year: int = 0
    lhv_mj_m3: float = CH4_LHV_MJ_M3
    gwp_ch4: float = GWP_CH4
    grid_t_co2_per_mwh: float = 0.0
    band: tuple[float, float] = DEFAULT_BAND
    engines: tuple[Engine, ...] = field(default_factory=tuple)
    source: str | None = None
    recorded_years: tuple[int, ...] = ()  # years whose waste came from tonnage records


def landfill_years(lf: Landfill) -> pd.DataFrame:
    """Per year from opening to ``end_year``: waste, methane, LFG, CO2, NMOC (m³), collected methane,
    electric power potential (MW, with its band) and energy (MWh/yr), avoided CO2e (t)."""
    out = methane_by_year(lf.waste_t, lf.k, lf.l0_m3_per_t, lf.end_year)
    out = out[out["year"] >= lf.open_year].reset_index(drop=True)
    ch4 = out["methane_m3"].to_numpy()
    lfg = ch4 / (lf.methane_pct / 100.0)
    collected = ch4 * lf.collection_efficiency
    mw_per_m3 = lf.lhv_mj_m3 * lf.engine_efficiency / SECONDS_PER_YEAR  # MJ/s = MW per m³/yr
    power = collected * mw_per_m3
    energy = power * 8760.0 * lf.availability
    out["lfg_m3"] = lfg
    out["co2_m3"] = lfg - ch4
    out["nmoc_m3"] = lfg * lf.nmoc_ppmv * 1e-6
    out["methane_t"] = ch4 * CH4_DENSITY_KG_M3 / 1000.0
    out["collected_methane_m3"] = collected
    out["power_mw"] = power
    out["power_low_mw"] = ch4 * lf.band[0] * mw_per_m3
    out["power_high_mw"] = ch4 * lf.band[1] * mw_per_m3
    out["energy_mwh"] = energy
    out["avoided_co2e_t"] = (
        collected * CH4_DENSITY_KG_M3 / 1000.0 * lf.gwp_ch4 + energy * lf.grid_t_co2_per_mwh
    )
    return out


def load_landfill(path: str | Path, tonnage_t: pd.Series | None = None) -> Landfill:
    """Read INPUT.toml; errors name the file, the line and the field. ``tonnage_t`` (t per year, e.g.
    from :func:`tirta.waste.tonnage.waste_history`) adds the years the file does not give."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read landfill file: {exc.strerror}", file=p) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"invalid TOML: {exc}", file=p, line=line) from None
    spec = data.get("tonnage")
    if tonnage_t is None and isinstance(spec, Mapping):
        tonnage_t = _recorded(spec, p, text)
    return parse_landfill(data, source=str(p), text=text, tonnage_t=tonnage_t)


def landfill_from_text(text: str, source: str = "body") -> Landfill:
    """A landfill from INPUT.toml text (an API body); ``[tonnage]`` files are not read from text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"invalid TOML: {exc}", file=source, line=getattr(exc, "lineno", None)
        ) from None
    if "tonnage" in data:
        raise InputError("tonnage files cannot be named in a request body", file=source, field="tonnage")
    return parse_landfill(data, source=source, text=text)


def _recorded(spec: Mapping[str, Any], path: Path, text: str) -> pd.Series:
    """Landfilled t per complete year of ``[tonnage] file, site`` (the file relative to INPUT.toml)."""
    from tirta.waste.tonnage import load_tonnage, waste_history

    line = _line(text, "tonnage")
    for key in ("file", "site"):
        if not isinstance(spec.get(key), str):
            raise InputError("expected a text value", file=path, line=line, field=f"tonnage.{key}")
    records = load_tonnage(path.parent / spec["file"]).records
    history = waste_history(records, spec["site"])
    if history.empty:
        raise InputError(
            f"no complete year of landfilled records for site '{spec['site']}'",
            file=path,
            line=line,
            field="tonnage.site",
        )
    return history


def _line(text: str | None, key: str) -> int | None:
    if not text:
        return None
    pattern = re.compile(rf"^\s*(?:\[\s*)?{re.escape(key)}\s*(?:=|\])", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def parse_landfill(
    data: Mapping[str, Any],
    *,
    source: str | None = None,
    text: str | None = None,
    tonnage_t: pd.Series | None = None,
) -> Landfill:
    """Build a :class:`Landfill` from the parsed TOML mapping (see the module docstring)."""

    def at(key: str) -> tuple[str | None, int | None]:
        head, _, sub = key.partition(".")
        line = (_line(text, sub) or _line(text, f'"{sub}"')) if sub else None
        return source, line or _line(text, head)

    def fail(msg: str, key: str) -> InputError:
        file, line = at(key)
        return InputError(msg, file=file, line=line, field=key)

    base = _default_set(data, fail)
    values = {**base, **data}
    for key in (*_REQUIRED, "k", "L0_m3_per_t", "methane_pct"):
        if key not in values:
            raise fail("missing (required)", key)
    open_year = _year(values["open_year"], "open_year", at)
    close_year = _year(values["close_year"], "close_year", at)
    if close_year < open_year:
        raise fail(f"close year {close_year} is before the open year {open_year}", "close_year")
    k = check_positive(values["k"], "k", *at("k"), upper=10.0)  # 1/yr; wet cells ~0.7
    l0 = check_positive(values["L0_m3_per_t"], "L0_m3_per_t", *at("L0_m3_per_t"), upper=1000.0)
    ch4 = check_positive(values["methane_pct"], "methane_pct", *at("methane_pct"))
    if ch4 > 100:
        raise fail(f"a percentage must be at most 100, got {values['methane_pct']}", "methane_pct")
    fractions = {
        key: _fraction(values.get(key, default), key, at)
        for key, default in (
            ("collection_efficiency", None),
            ("engine_efficiency", None),
            ("availability", 0.9),
        )
    }
    waste = _waste(values.get("waste_t_per_year"), open_year, close_year, at, tonnage_t)
    end_year = _year(values.get("end_year", close_year + YEARS_AFTER_CLOSE), "end_year", at)
    if end_year < close_year + YEARS_AFTER_CLOSE:
        raise fail(f"must be at least {YEARS_AFTER_CLOSE} years after closure", "end_year")
    band = values.get("collection_efficiency_band", list(DEFAULT_BAND))
    if not isinstance(band, list) or len(band) != 2:
        raise fail("expected [low, high] fractions", "collection_efficiency_band")
    lo, hi = (_fraction(b, "collection_efficiency_band", at) for b in band)
    if lo > hi:
        raise fail(f"low {lo} is above high {hi}", "collection_efficiency_band")
    return Landfill(
        name=str(values.get("name", Path(source).stem if source else "landfill")),
        open_year=open_year,
        close_year=close_year,
        waste_t=waste,
        k=k,
        l0_m3_per_t=l0,
        methane_pct=ch4,
        collection_efficiency=fractions["collection_efficiency"],
        engine_efficiency=fractions["engine_efficiency"],
        availability=fractions["availability"],
        nmoc_ppmv=_nonneg(values.get("nmoc_ppmv", 4000.0), "nmoc_ppmv", at, 1e6),
        end_year=end_year,
        lhv_mj_m3=check_positive(
            values.get("lhv_mj_m3", CH4_LHV_MJ_M3), "lhv_mj_m3", *at("lhv_mj_m3"), upper=100.0
        ),
        gwp_ch4=_nonneg(values.get("gwp_ch4", GWP_CH4), "gwp_ch4", at, 1e4),
        grid_t_co2_per_mwh=_nonneg(values.get("grid_t_co2_per_mwh", 0.0), "grid_t_co2_per_mwh", at),
        band=(lo, hi),
        engines=_engines(values.get("engine", []), at),
        source=source,
        recorded_years=tuple(int(str(y)) for y in tonnage_t.index) if tonnage_t is not None else (),
    )


def _default_set(data: Mapping[str, Any], fail: Any) -> dict[str, Any]:
    name = data.get("defaults")
    if name is None:
        return {}
    sets = landgem_defaults()
    if not isinstance(name, str) or name not in sets:
        raise fail(f"unknown default set {name!r}; expected one of {sorted(sets)}", "defaults")
    kind = data.get("landfill_type", "conventional")
    if not isinstance(kind, str) or kind not in sets[name]:
        raise fail(
            f"unknown landfill type {kind!r}; expected one of {sorted(sets[name])}", "landfill_type"
        )
    return dict(sets[name][kind])


def _year(value: Any, key: str, at: Any) -> int:
    number = as_number(value, key, *at(key))
    if number != int(number) or not 1800 <= number <= 2300:
        raise InputError(
            f"expected a calendar year, got {value!r}", file=at(key)[0], line=at(key)[1], field=key
        )
    return int(number)


def _fraction(value: Any, key: str, at: Any) -> float:
    number = as_number(value, key, *at(key))
    if not 0.0 <= number <= 1.0:
        raise InputError(
            f"expected a fraction between 0 and 1, got {value!r}",
            file=at(key)[0],
            line=at(key)[1],
            field=key,
        )
    return number


def _nonneg(value: Any, key: str, at: Any, upper: float = 1e10) -> float:
    """A finite number in [0, ``upper``] (default upper: 10 Gt, beyond any landfill's yearly waste)."""
    number = as_number(value, key, *at(key))
    if number > upper:
        raise InputError(
            f"implausibly large: {value} (at most {upper:g})",
            file=at(key)[0],
            line=at(key)[1],
            field=key,
        )
    if number < 0:
        raise InputError(
            f"must not be negative, got {value!r}", file=at(key)[0], line=at(key)[1], field=key
        )
    return number


def _waste(
    value: Any, open_year: int, close_year: int, at: Any, tonnage_t: pd.Series | None
) -> pd.Series:
    key = "waste_t_per_year"
    years = np.arange(open_year, close_year + 1)
    if value is None and tonnage_t is None:
        raise InputError("missing (required)", file=at(key)[0], line=at(key)[1], field=key)
    if value is None:
        waste = pd.Series(0.0, index=years)
    elif isinstance(value, Mapping):
        waste = pd.Series(0.0, index=years)
        for year_text, tonnes in value.items():
            fld = f"{key}.{year_text}"
            try:
                year = int(year_text)
            except ValueError:
                raise InputError(
                    f"expected a year as key, got {year_text!r}",
                    file=at(fld)[0],
                    line=at(fld)[1],
                    field=fld,
                ) from None
            if not open_year <= year <= close_year:
                raise InputError(
                    f"year {year} is outside the open..close years {open_year}..{close_year}",
                    file=at(fld)[0],
                    line=at(fld)[1],
                    field=fld,
                )
            waste[year] = _nonneg(tonnes, fld, at)
    else:
        waste = pd.Series(_nonneg(value, key, at), index=years)
    if tonnage_t is not None:
        for year, tonnes in tonnage_t.items():
            y = int(str(year))
            if not open_year <= y <= close_year:
                raise InputError(
                    f"tonnage records of {y} fall outside the open..close years {open_year}..{close_year}",
                    file=at("tonnage")[0],
                    line=at("tonnage")[1],
                    field="tonnage.site",
                )
            waste[y] = float(tonnes)  # a recorded year replaces the planned figure
    return waste.astype(float)


def _engines(value: Any, at: Any) -> tuple[Engine, ...]:
    if not isinstance(value, list):
        raise InputError(
            "expected [[engine]] tables", file=at("engine")[0], line=at("engine")[1], field="engine"
        )
    out = []
    for rec in value:
        try:
            out.append(
                Engine(str(rec["id"]), str(rec["gas_flow"]), str(rec["methane"]), str(rec["power"]))
            )
        except (KeyError, TypeError) as exc:
            raise InputError(
                f"each [[engine]] needs id, gas_flow, methane and power sensor ids (missing {exc})",
                file=at("engine")[0],
                line=at("engine")[1],
                field="engine",
            ) from None
    return tuple(out)
