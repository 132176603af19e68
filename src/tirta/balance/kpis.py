"""Performance indicators of a water balance: NRW, losses per connection and km, UARL, ILI and banding.

Per-day indicators of real losses count only the hours the system is pressurised (intermittent supply).
UARL follows Lambert et al. 1999; coefficients, validity limits and bands are read from data/standards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from tirta.balance.standards import load_standard
from tirta.balance.uncertainty import ili_interval95
from tirta.balance.waterbalance import WaterBalance
from tirta.errors import InputError
from tirta.units import to_si

__all__ = [
    "ILI_BELOW_ONE",
    "Band",
    "BandScheme",
    "BurstPartition",
    "Costs",
    "Kpis",
    "NrwCost",
    "SystemData",
    "UarlValidity",
    "apparent_losses_l_per_conn_day",
    "assess",
    "band_schemes",
    "compute_kpis",
    "data_validity_score",
    "ili",
    "ili_band",
    "kpis_to_dict",
    "nrw_cost",
    "nrw_pct",
    "partition_bursts",
    "real_losses_l_per_conn_day",
    "real_losses_m3_per_km_day",
    "uarl_coefficient_us_to_metric",
    "uarl_components_us",
    "uarl_l_per_day",
    "uarl_m3",
    "uarl_us_gal_per_day",
    "uarl_validity",
]

ILI_BELOW_ONE: Final = "ILI < 1: check data validity"


@dataclass(frozen=True)
class SystemData:
    """Size and pressure of the audited system, and the audit period."""

    mains_length_km: float  # Lm, length of mains, km
    connections: float  # Nc, service connections (main to property boundary)
    private_pipe_length_km: float  # Lp, property boundary to customer meter, km (0: meter at boundary)
    average_pressure_m: float  # P, average operating pressure when pressurised, m
    supply_hours_per_day: float = 24.0  # < 24 for intermittent supply
    days: float = 365.0  # length of the audit period

    @property
    def pressurised_fraction(self) -> float:
        """T/100: the share of time the system is pressurised."""
        return self.supply_hours_per_day / 24.0

    @property
    def connection_density_per_km(self) -> float:
        """Service connections per km of mains."""
        return self.connections / self.mains_length_km

    def check(self) -> None:
        """Raise InputError (field ``system.<key>``) unless every figure is usable."""
        positive = (
            "mains_length_km",
            "connections",
            "average_pressure_m",
            "supply_hours_per_day",
            "days",
        )
        for name in (*positive, "private_pipe_length_km"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"must be a finite number, got {value!r}", field=f"system.{name}")
            if value < 0 or (name in positive and value == 0):
                raise InputError(f"must be above 0, got {value}", field=f"system.{name}")
        if self.supply_hours_per_day > 24:
            raise InputError(
                f"must be at most 24, got {self.supply_hours_per_day}",
                field="system.supply_hours_per_day",
            )


@dataclass(frozen=True)
class Costs:
    """Unit costs of lost water (one currency); AWWA values real losses at production cost."""

    variable_production_cost_per_m3: float  # production/purchase cost of one more m³
    retail_tariff_per_m3: float  # customer retail unit price
    operating_cost: float | None = None  # operating cost over the audit period, for NRW cost in %


@dataclass(frozen=True)
class NrwCost:
    """NRW valued in money over the period: (UAC + RL) × production cost + AL × retail tariff."""

    unbilled_authorised: float
    real_losses: float
    apparent_losses: float
    total: float
    pct_of_operating_cost: float | None


@dataclass(frozen=True)
class UarlValidity:
    """Whether the UARL formula is within its validity limits; the reasons when it is not."""

    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def status(self) -> str:
        return "ok" if self.ok else "outside_limits"


@dataclass(frozen=True)
class Band:
    """One performance band: ILI in [lower, upper)."""

    band: str
    lower: float
    upper: float
    meaning: str


@dataclass(frozen=True)
class BandScheme:
    """A banding scheme, e.g. the World Bank Institute bands for developing countries."""

    name: str
    title: str
    bands: tuple[Band, ...]

    def classify(self, value: float) -> Band | None:
        """The band holding ``value`` (below the first band: the first band; nan or ≤ 0: None)."""
        if not math.isfinite(value) or value <= 0:
            return None
        for b in self.bands:
            if value < b.upper:
                return b
        return self.bands[-1]


@dataclass(frozen=True)
class BurstPartition:
    """Real losses split into background (≈ UARL) and bursts (the rest), in the units given."""

    background: float
    bursts: float
    background_share_pct: float
    bursts_share_pct: float


@dataclass(frozen=True)
class Kpis:
    """Indicators of one audit; volumes in m³ over the period, per-day rates per pressurised day."""

    nrw_pct: float  # % of system input volume
    nrw_cost: NrwCost | None
    real_losses_l_per_conn_day: float
    real_losses_l_per_conn_day_per_m: float
    real_losses_m3_per_km_day: float
    apparent_losses_l_per_conn_day: float
    water_losses_l_per_conn_day: float
    connection_density_per_km: float
    carl_m3: float
    uarl_l_per_day: float
    uarl_m3: float
    uarl_validity: UarlValidity
    ili: float
    real_losses_ci95: tuple[float, float]
    ili_ci95: tuple[float, float]
    band: str | None
    band_scheme: str
    data_validity_score: float
    warnings: list[str] = field(default_factory=list)


def _coeff(table: str) -> dict[str, float]:
    return load_standard("uarl")[table]


def uarl_l_per_day(
    mains_length_km: float, connections: float, private_pipe_length_km: float, pressure_m: float
) -> float:
    """UARL in L/day, metric: (18·Lm + 0.8·Nc + 25·Lp)·P (Lambert et al. 1999)."""
    c = _coeff("metric")
    return (
        c["mains_per_km"] * mains_length_km
        + c["connections"] * connections
        + c["private_pipe_per_km"] * private_pipe_length_km
    ) * pressure_m


def uarl_us_gal_per_day(
    mains_length_mi: float, connections: float, private_pipe_length_mi: float, pressure_psi: float
) -> float:
    """UARL in US gal/day: (5.4·Lm[mi] + 0.15·Nc + 7.5·Lp[mi])·P[psi] (Water Loss Control, Table 7.2)."""
    c = _coeff("us")
    return (
        c["mains_per_mile"] * mains_length_mi
        + c["connections"] * connections
        + c["private_pipe_per_mile"] * private_pipe_length_mi
    ) * pressure_psi


def uarl_components_us() -> dict[str, dict[str, float]]:
    """Table 7.2 UARL components in gal/day per mile (or connection) per psi: background and bursts."""
    return {k: dict(v) for k, v in load_standard("uarl")["us_components"].items()}


def uarl_coefficient_us_to_metric(value: float, per: Literal["length", "connection"]) -> float:
    """Convert a UARL coefficient from gal/d/psi per mile (or connection) to L/d/m per km (or connection)."""
    litres = to_si(value, "gal", "volume") * 1000.0
    per_m_head = litres / to_si(1.0, "psi", "pressure")
    if per == "length":
        return per_m_head / (to_si(1.0, "mi", "length") / 1000.0)
    return per_m_head


def uarl_m3(system: SystemData) -> float:
    """UARL over the audit period, m³: L/day × days × pressurised fraction / 1000."""
    daily = uarl_l_per_day(
        system.mains_length_km,
        system.connections,
        system.private_pipe_length_km,
        system.average_pressure_m,
    )
    return daily * system.days * system.pressurised_fraction / 1000.0


def uarl_validity(mains_length_km: float, connections: float, pressure_m: float) -> UarlValidity:
    """Check the UARL formula's validity limits (connections, connection density, pressure range)."""
    lim = load_standard("uarl")["validity"]
    reasons: list[str] = []
    if connections < lim["min_connections"]:
        reasons.append(f"{connections:g} service connections is below {lim['min_connections']:g}")
    density = connections / mains_length_km if mains_length_km > 0 else math.inf
    if density < lim["min_connection_density_per_km"]:
        reasons.append(
            f"connection density {density:.1f} per km is below {lim['min_connection_density_per_km']:g}"
        )
    if pressure_m < lim["min_pressure_m"]:
        reasons.append(f"average pressure {pressure_m:g} m is below {lim['min_pressure_m']:g} m")
    elif pressure_m > lim["max_pressure_m"]:
        reasons.append(f"average pressure {pressure_m:g} m is above {lim['max_pressure_m']:g} m")
    return UarlValidity(tuple(reasons))


def ili(carl_m3: float, uarl: float) -> float:
    """Infrastructure Leakage Index: current over unavoidable annual real losses (same units)."""
    if uarl <= 0:
        return math.nan
    return carl_m3 / uarl


def nrw_pct(balance: WaterBalance) -> float:
    """NRW in % of the system input volume."""
    return 100.0 * balance.non_revenue_water.value / balance.system_input_volume.value


def nrw_cost(balance: WaterBalance, costs: Costs) -> NrwCost:
    """NRW valued per AWWA: unbilled authorised and real losses at production cost, apparent at retail."""
    uac = balance.unbilled_authorised.value * costs.variable_production_cost_per_m3
    rl = balance.real_losses.value * costs.variable_production_cost_per_m3
    al = balance.apparent_losses.value * costs.retail_tariff_per_m3
    total = uac + rl + al
    pct = 100.0 * total / costs.operating_cost if costs.operating_cost else None
    return NrwCost(uac, rl, al, total, pct)


def real_losses_l_per_conn_day(
    real_losses_m3: float, connections: float, days: float, supply_hours_per_day: float = 24.0
) -> float:
    """Real losses in L per connection per day when the system is pressurised."""
    return 1000.0 * real_losses_m3 / (connections * days * supply_hours_per_day / 24.0)


def real_losses_m3_per_km_day(
    real_losses_m3: float, mains_length_km: float, days: float, supply_hours_per_day: float = 24.0
) -> float:
    """Real losses in m³ per km of mains per day when the system is pressurised."""
    return real_losses_m3 / (mains_length_km * days * supply_hours_per_day / 24.0)


def apparent_losses_l_per_conn_day(apparent_losses_m3: float, connections: float, days: float) -> float:
    """Apparent losses in L per connection per calendar day."""
    return 1000.0 * apparent_losses_m3 / (connections * days)


def band_schemes() -> dict[str, BandScheme]:
    """The banding schemes of ``data/standards/ili_banding.toml`` by name."""
    out: dict[str, BandScheme] = {}
    for name, spec in load_standard("ili_banding").items():
        bands = tuple(
            Band(str(b["band"]), float(b["lower"]), float(b["upper"]), str(b.get("meaning", "")))
            for b in spec["bands"]
        )
        out[name] = BandScheme(name, str(spec.get("title", name)), bands)
    return out


def ili_band(value: float, scheme: str = "wbi_developing") -> Band | None:
    """The performance band of an ILI under ``scheme`` (None when the ILI is not positive)."""
    schemes = band_schemes()
    if scheme not in schemes:
        raise InputError(
            f"unknown banding scheme '{scheme}'; expected one of {', '.join(sorted(schemes))}",
            field="scheme",
        )
    return schemes[scheme].classify(value)


def partition_bursts(real_losses: float, uarl: float) -> BurstPartition:
    """Split real losses into background (taken as UARL) and bursts = RL − UARL, with shares in %."""
    bursts = real_losses - uarl
    return BurstPartition(uarl, bursts, 100.0 * uarl / real_losses, 100.0 * bursts / real_losses)


def data_validity_score(balance: WaterBalance) -> float:
    """AWWA-style data validity score out of 100: input grades (1–10) weighted by their volume, × 10."""
    weighted = total = 0.0
    for comp in balance.inputs().values():
        if comp.grade is None or comp.value <= 0:
            continue
        weighted += comp.grade * comp.value
        total += comp.value
    return 10.0 * weighted / total if total > 0 else math.nan


def assess(
    ili_value: float,
    real_losses_m3: float,
    validity: UarlValidity | None = None,
    score: float | None = None,
) -> list[str]:
    """Warnings for implausible results: ILI < 1, negative real losses, UARL outside limits, weak data."""
    warnings: list[str] = []
    if real_losses_m3 < 0:
        warnings.append(
            f"real losses are negative ({real_losses_m3:,.0f} m³): authorised consumption or apparent losses "
            "are overestimated, or the system input volume is under-measured"
        )
    if math.isfinite(ili_value) and ili_value < 1:
        warnings.append(f"{ILI_BELOW_ONE} (ILI {ili_value:.2f} is below the technical minimum of 1)")
    if validity is not None:
        warnings.extend(f"UARL outside validity limits, ILI uncertain: {r}" for r in validity.reasons)
    threshold = load_standard("water_audit_defaults")["data_validity_score"]["warn_below"]
    if score is not None and math.isfinite(score) and score < threshold:
        warnings.append(
            f"data validity score {score:.0f}/100 is below {threshold:g}: improve the input data "
            "before acting on the loss figures"
        )
    return warnings


def compute_kpis(
    balance: WaterBalance,
    system: SystemData,
    costs: Costs | None = None,
    scheme: str = "wbi_developing",
    uarl_margin_pct: float = 0.0,
) -> Kpis:
    """All indicators of one audit, with 95 % intervals of real losses and ILI and the warnings."""
    system.check()
    if not math.isclose(system.days, balance.period_days):
        raise InputError(
            f"system period ({system.days:g} d) differs from the balance period ({balance.period_days:g} d)",
            field="system.days",
        )
    rl = balance.real_losses
    days, hours = system.days, system.supply_hours_per_day
    nc = system.connections
    uarl_daily = uarl_l_per_day(
        system.mains_length_km, nc, system.private_pipe_length_km, system.average_pressure_m
    )
    uarl = uarl_m3(system)
    ili_value = ili(rl.value, uarl)
    validity = uarl_validity(system.mains_length_km, nc, system.average_pressure_m)
    score = data_validity_score(balance)
    band = ili_band(ili_value, scheme)
    per_conn = real_losses_l_per_conn_day(rl.value, nc, days, hours)
    return Kpis(
        nrw_pct=nrw_pct(balance),
        nrw_cost=nrw_cost(balance, costs) if costs is not None else None,
        real_losses_l_per_conn_day=per_conn,
        real_losses_l_per_conn_day_per_m=per_conn / system.average_pressure_m,
        real_losses_m3_per_km_day=real_losses_m3_per_km_day(
            rl.value, system.mains_length_km, days, hours
        ),
        apparent_losses_l_per_conn_day=apparent_losses_l_per_conn_day(
            balance.apparent_losses.value, nc, days
        ),
        water_losses_l_per_conn_day=1000.0 * balance.water_losses.value / (nc * days),
        connection_density_per_km=system.connection_density_per_km,
        carl_m3=rl.value,
        uarl_l_per_day=uarl_daily,
        uarl_m3=uarl,
        uarl_validity=validity,
        ili=ili_value,
        real_losses_ci95=rl.ci95,
        ili_ci95=ili_interval95(rl.value, rl.margin, uarl, uarl * uarl_margin_pct / 100.0),
        band=band.band if band else None,
        band_scheme=scheme,
        data_validity_score=score,
        warnings=assess(ili_value, rl.value, validity, score),
    )


def kpis_to_dict(k: Kpis) -> dict[str, Any]:
    """JSON-ready form of the indicators."""
    cost = k.nrw_cost
    return {
        "nrw_pct": k.nrw_pct,
        "nrw_cost": None if cost is None else cost.__dict__.copy(),
        "real_losses_l_per_conn_day": k.real_losses_l_per_conn_day,
        "real_losses_l_per_conn_day_per_m": k.real_losses_l_per_conn_day_per_m,
        "real_losses_m3_per_km_day": k.real_losses_m3_per_km_day,
        "apparent_losses_l_per_conn_day": k.apparent_losses_l_per_conn_day,
        "water_losses_l_per_conn_day": k.water_losses_l_per_conn_day,
        "connection_density_per_km": k.connection_density_per_km,
        "carl_m3": k.carl_m3,
        "uarl_l_per_day": k.uarl_l_per_day,
        "uarl_m3": k.uarl_m3,
        "validity": {"status": k.uarl_validity.status, "reasons": list(k.uarl_validity.reasons)},
        "ili": _num(k.ili),
        "real_losses_ci95": list(k.real_losses_ci95),
        "ili_ci95": [_num(v) for v in k.ili_ci95],
        "band": k.band,
        "band_scheme": k.band_scheme,
        "data_validity_score": _num(k.data_validity_score),
        "warnings": list(k.warnings),
    }


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None
