"""The indicator set: one definition per KPI (IBNET id, name, unit, inputs, formula, edge rules).

Definitions follow tirta's reference notes performance-indicators.md §2 (IBNET toolkit numbering, IWA
real-loss PIs). Formulas see the input variables of §3 plus the derived ``D`` (days in the period),
``ann`` (365/D), ``months`` (D·12/365), ``Vs`` (net water supplied), ``NRWv`` (non-revenue volume),
``pop_served`` and ``T`` (share of the day the system is pressurised). Real losses, UARL and ILI are
computed by :mod:`tirta.balance`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from tirta.balance import SystemData, real_losses_l_per_conn_day, uarl_m3, uarl_validity

__all__ = [
    "DERIVED",
    "E2_MINIMUM",
    "FORMULAS",
    "INDICATORS",
    "INPUT_VARIABLES",
    "MONEY_INPUTS",
    "Indicator",
    "indicator",
]

Vars = Mapping[str, float]

#: input variables of reference §3 with their units; blank means unknown, never 0
INPUT_VARIABLES: Final[dict[str, str]] = {
    "pop_area": "persons",
    "pop_hc": "persons",
    "pop_pwp": "persons",
    "pop_sew": "persons",
    "n_conn_w": "count",
    "n_conn_metered": "count",
    "n_conn_ww": "count",
    "n_accounts": "count",
    "persons_per_connection": "persons/conn",  # household-size assumption behind pop_hc, published with 1.x
    "len_mains_km": "km",
    "len_sewer_km": "km",
    "len_private_km": "km",
    "v_produced": "m³",
    "v_exported": "m³",
    "v_sold": "m³",
    "v_sold_metered": "m³",
    "carl": "m³",
    "p_avg_m": "m",
    "hours_supply": "h/day",
    "n_cust": "count",
    "n_cust_intermittent": "count",
    "tests_required": "count",
    "tests_done": "count",
    "tests_pass": "count",
    "n_complaints": "count",
    "n_breaks": "count",
    "n_blockages": "count",
    "v_ww_collected": "m³",
    "v_ww_primary_only": "m³",
    "v_ww_secondary": "m³",
    "rev_op": "LCU",
    "cash_collected": "LCU",
    "ar_end": "LCU",
    "opex": "LCU",
    "cost_labour": "LCU",
    "cost_energy": "LCU",
    "staff_w": "FTE",
    "staff_ww": "FTE",
    "kwh_total": "kWh",
    "kwh_pump": "kWh",
    "v_pumped": "m³",
    "head_m": "m",
    "fx_usd": "LCU per US$",
}
#: money inputs, in local currency units (LCU) of the period
MONEY_INPUTS: Final = frozenset(k for k, u in INPUT_VARIABLES.items() if u == "LCU")

#: derived variables and the inputs they need (D, ann and months come from the period)
DERIVED: Final[dict[str, tuple[str, ...]]] = {
    "Vs": ("v_produced", "v_exported"),
    "NRWv": ("v_produced", "v_exported", "v_sold"),
    "pop_served": ("pop_hc", "pop_pwp"),
    "T": ("hours_supply",),
}


@dataclass(frozen=True)
class Indicator:
    """One KPI: ``value = formula(v)`` unless an input is missing or ``denominator(v)`` is 0."""

    id: str
    name: str
    unit: str
    uses: tuple[str, ...]  # input or derived variables the formula reads
    formula: Callable[[Vars], float]
    denominator: Callable[[Vars], float]
    denominator_text: str
    periods: str = "Y"  # the periods IBNET defines it for: Y (year), M (month)
    annualised: bool = False  # counts per year scaled by ann = 365/D for a partial year
    money: bool = False  # value in local currency; also given in US$ at fx_usd
    cap: float | None = None  # shown capped at this value, stored raw (coverage)
    higher_is_better: bool | None = None
    source: str = ""
    notes: Callable[[Vars], list[tuple[str, str]]] | None = None  # (flag, note) pairs

    @property
    def formula_text(self) -> str:
        """The formula as the reference writes it (D = days in the period)."""
        return FORMULAS.get(self.id, "")

    def inputs(self) -> tuple[str, ...]:
        """The input variables of reference §3 this indicator needs (derived ones expanded)."""
        out: list[str] = []
        for name in self.uses:
            for raw in DERIVED.get(name, (name,)):
                if raw not in out and raw not in ("D", "ann", "months"):
                    out.append(raw)
        return tuple(out)


def _one(_: Vars) -> float:
    return 1.0


def _system(v: Vars) -> SystemData:
    return SystemData(
        mains_length_km=v["len_mains_km"],
        connections=v["n_conn_w"],
        private_pipe_length_km=v.get("len_private_km", 0.0),
        average_pressure_m=v["p_avg_m"],
        supply_hours_per_day=24.0 * v["T"],
        days=v["D"],
    )


def _uarl(v: Vars) -> float:
    return uarl_m3(_system(v))


def _rl_notes(v: Vars) -> list[tuple[str, str]]:
    notes: list[tuple[str, str]] = []
    if v["T"] < 1.0:
        notes.append(
            ("intermittent_supply", f"intermittent supply ({24 * v['T']:g} h/day): per pressurised day")
        )
    if v["carl"] < 0:
        notes.append(
            (
                "negative_real_losses",
                "real losses are negative: consumption over-estimated or inflow under-measured",
            )
        )
    return notes


def _ili_notes(v: Vars) -> list[tuple[str, str]]:
    notes = _rl_notes(v)
    validity = uarl_validity(v["len_mains_km"], v["n_conn_w"], v["p_avg_m"])
    notes += [
        ("uarl_uncertain", f"UARL outside validity limits, ILI uncertain: {r}") for r in validity.reasons
    ]
    uarl = _uarl(v)
    if uarl > 0 and 0 <= v["carl"] / uarl < 1.0:
        notes.append(("ili_below_1", "ILI < 1: below the technical minimum, check data validity"))
    return notes


#: theoretical minimum of standardised pumping energy: 1000·9.81·100/3.6e6 kWh/m³/100 m (reference §2, ECAM)
E2_MINIMUM: Final = 1000.0 * 9.81 * 100.0 / 3.6e6


def _coverage_notes(v: Vars) -> list[tuple[str, str]]:
    if "persons_per_connection" in v:
        ppc = v["persons_per_connection"]
        return [("assumption", f"population served assumes {ppc:g} persons per connection")]
    return []


def _e2_notes(v: Vars) -> list[tuple[str, str]]:
    value = v["kwh_pump"] / (v["v_pumped"] * v["head_m"] / 100.0)
    if value < E2_MINIMUM:
        return [
            (
                "below_theoretical_minimum",
                f"below the theoretical minimum {E2_MINIMUM:.4f}: check the inputs",
            )
        ]
    return []


def _pct(num: Callable[[Vars], float], den: Callable[[Vars], float]) -> Callable[[Vars], float]:
    return lambda v: 100.0 * num(v) / den(v)


def _ind(
    id: str,
    name: str,
    unit: str,
    uses: tuple[str, ...],
    formula: Callable[[Vars], float],
    denominator: Callable[[Vars], float],
    denominator_text: str,
    **kw: object,
) -> Indicator:
    return Indicator(id, name, unit, uses, formula, denominator, denominator_text, **kw)  # type: ignore[arg-type]


S1 = "IBNET toolkit indicator pages (World Bank)"
# fmt: off
INDICATORS: Final[tuple[Indicator, ...]] = (
    _ind("1.1", "Water coverage", "%", ("pop_hc", "pop_pwp", "pop_area"),
         _pct(lambda v: v["pop_served"], lambda v: v["pop_area"]), lambda v: v["pop_area"], "pop_area",
         cap=100.0, higher_is_better=True, source=S1, notes=_coverage_notes),
    _ind("1.2", "Water coverage by house connection", "%", ("pop_hc", "pop_area"),
         _pct(lambda v: v["pop_hc"], lambda v: v["pop_area"]), lambda v: v["pop_area"], "pop_area",
         cap=100.0, higher_is_better=True, source=S1, notes=_coverage_notes),
    _ind("1.3", "Water coverage by public water point", "%", ("pop_pwp", "pop_area"),
         _pct(lambda v: v["pop_pwp"], lambda v: v["pop_area"]), lambda v: v["pop_area"], "pop_area",
         cap=100.0, source=S1),
    _ind("2.1", "Sewerage coverage", "%", ("pop_sew", "pop_area"),
         _pct(lambda v: v["pop_sew"], lambda v: v["pop_area"]), lambda v: v["pop_area"], "pop_area",
         cap=100.0, higher_is_better=True, source=S1),
    _ind("3.1", "Water production per capita", "L/person/day", ("Vs", "pop_served", "D"),
         lambda v: 1000.0 * v["Vs"] / (v["pop_served"] * v["D"]), lambda v: v["pop_served"],
         "pop_hc + pop_pwp", periods="Y,M", source=S1),
    _ind("3.2", "Water production per connection", "m³/conn/month", ("Vs", "n_conn_w", "months"),
         lambda v: v["Vs"] / (v["n_conn_w"] * v["months"]), lambda v: v["n_conn_w"], "n_conn_w",
         periods="Y,M", source=S1),
    _ind("4.1", "Water consumption per capita", "L/person/day", ("v_sold", "pop_served", "D"),
         lambda v: 1000.0 * v["v_sold"] / (v["pop_served"] * v["D"]), lambda v: v["pop_served"],
         "pop_hc + pop_pwp", source=S1),
    _ind("6.1", "Non-revenue water", "%", ("NRWv", "Vs"),
         _pct(lambda v: v["NRWv"], lambda v: v["Vs"]), lambda v: v["Vs"], "v_produced − v_exported",
         higher_is_better=False, source=S1),
    _ind("6.2", "Non-revenue water per km of mains", "m³/km/day", ("NRWv", "len_mains_km", "D"),
         lambda v: v["NRWv"] / (v["len_mains_km"] * v["D"]), lambda v: v["len_mains_km"], "len_mains_km",
         higher_is_better=False, source=S1),
    _ind("6.3", "Non-revenue water per connection", "m³/conn/day", ("NRWv", "n_conn_w", "D"),
         lambda v: v["NRWv"] / (v["n_conn_w"] * v["D"]), lambda v: v["n_conn_w"], "n_conn_w",
         higher_is_better=False, source=S1),
    _ind("RL", "Real losses per connection (when pressurised)", "L/conn/day",
         ("carl", "n_conn_w", "D", "T"),
         lambda v: real_losses_l_per_conn_day(v["carl"], v["n_conn_w"], v["D"], 24.0 * v["T"]),
         lambda v: v["n_conn_w"] * v["T"], "n_conn_w · hours_supply", higher_is_better=False,
         source="IWA PI manual 3rd ed. (Alegre et al. 2016); tirta.balance", notes=_rl_notes),
    _ind("UARL", "Unavoidable annual real losses over the period", "m³",
         ("len_mains_km", "n_conn_w", "p_avg_m", "D", "T"), _uarl, _one, "1",
         source="Lambert et al. 1999; tirta.balance"),
    _ind("ILI", "Infrastructure Leakage Index", "–",
         ("carl", "len_mains_km", "n_conn_w", "p_avg_m", "D", "T"),
         lambda v: v["carl"] / _uarl(v), _uarl, "UARL (len_mains_km, n_conn_w, p_avg_m, hours_supply)",
         higher_is_better=False, source="Lambert et al. 1999; tirta.balance", notes=_ili_notes),
    _ind("CD", "Connection density", "conn/km", ("n_conn_w", "len_mains_km"),
         lambda v: v["n_conn_w"] / v["len_mains_km"], lambda v: v["len_mains_km"], "len_mains_km",
         source="water-balance.md §2"),
    _ind("7.1", "Metering level", "%", ("n_conn_metered", "n_conn_w"),
         _pct(lambda v: v["n_conn_metered"], lambda v: v["n_conn_w"]), lambda v: v["n_conn_w"], "n_conn_w",
         higher_is_better=True, source=S1),
    _ind("7.2", "Share of sales metered", "%", ("v_sold_metered", "v_sold"),
         _pct(lambda v: v["v_sold_metered"], lambda v: v["v_sold"]), lambda v: v["v_sold"], "v_sold",
         higher_is_better=True, source=S1),
    _ind("9.1", "Pipe breaks", "breaks/km/yr", ("n_breaks", "ann", "len_mains_km"),
         lambda v: v["n_breaks"] * v["ann"] / v["len_mains_km"], lambda v: v["len_mains_km"], "len_mains_km",
         annualised=True, higher_is_better=False, source=S1),
    _ind("10.1", "Sewer blockages", "blockages/km/yr", ("n_blockages", "ann", "len_sewer_km"),
         lambda v: v["n_blockages"] * v["ann"] / v["len_sewer_km"], lambda v: v["len_sewer_km"],
         "len_sewer_km", annualised=True, higher_is_better=False, source=S1),
    _ind("15.1", "Continuity of service", "h/day", ("hours_supply",),
         lambda v: v["hours_supply"], _one, "1", periods="Y,M", higher_is_better=True, source=S1),
    _ind("15.2", "Customers with discontinuous supply", "%", ("n_cust_intermittent", "n_cust"),
         _pct(lambda v: v["n_cust_intermittent"], lambda v: v["n_cust"]), lambda v: v["n_cust"], "n_cust",
         higher_is_better=False, source=S1),
    _ind("15.3", "Residual-chlorine tests done", "% of required", ("tests_done", "tests_required"),
         _pct(lambda v: v["tests_done"], lambda v: v["tests_required"]), lambda v: v["tests_required"],
         "tests_required", periods="Y,M", higher_is_better=True, source=S1),
    _ind("15.4", "Residual-chlorine tests passing", "%", ("tests_pass", "tests_done"),
         _pct(lambda v: v["tests_pass"], lambda v: v["tests_done"]), lambda v: v["tests_done"], "tests_done",
         periods="Y,M", higher_is_better=True, source=S1),
    _ind("16.1", "Complaints", "% of W&WW conn per yr", ("n_complaints", "ann", "n_conn_w", "n_conn_ww"),
         lambda v: 100.0 * v["n_complaints"] * v["ann"] / (v["n_conn_w"] + v["n_conn_ww"]),
         lambda v: v["n_conn_w"] + v["n_conn_ww"], "n_conn_w + n_conn_ww", annualised=True,
         higher_is_better=False, source=S1),
    _ind("17.1", "Wastewater at least primary treated", "%",
         ("v_ww_primary_only", "v_ww_secondary", "v_ww_collected"),
         _pct(lambda v: v["v_ww_primary_only"] + v["v_ww_secondary"], lambda v: v["v_ww_collected"]),
         lambda v: v["v_ww_collected"], "v_ww_collected", higher_is_better=True, source=S1),
    _ind("17.2", "Wastewater primary treatment only", "%", ("v_ww_primary_only", "v_ww_collected"),
         _pct(lambda v: v["v_ww_primary_only"], lambda v: v["v_ww_collected"]),
         lambda v: v["v_ww_collected"], "v_ww_collected", source=S1),
    _ind("17.3", "Wastewater secondary treatment or better", "%", ("v_ww_secondary", "v_ww_collected"),
         _pct(lambda v: v["v_ww_secondary"], lambda v: v["v_ww_collected"]),
         lambda v: v["v_ww_collected"], "v_ww_collected", higher_is_better=True, source=S1),
    _ind("11.1", "Unit operating cost per m³ sold", "LCU/m³", ("opex", "v_sold"),
         lambda v: v["opex"] / v["v_sold"], lambda v: v["v_sold"], "v_sold", money=True, source=S1),
    _ind("11.2", "Unit operating cost per m³ produced", "LCU/m³", ("opex", "v_produced"),
         lambda v: v["opex"] / v["v_produced"], lambda v: v["v_produced"], "v_produced", money=True,
         source=S1),
    _ind("12.1", "Staff (water) per 1000 water connections", "#/1000 conn", ("staff_w", "n_conn_w"),
         lambda v: v["staff_w"] / (v["n_conn_w"] / 1000.0), lambda v: v["n_conn_w"], "n_conn_w",
         higher_is_better=False, source=S1),
    _ind("12.WW", "Staff (wastewater) per 1000 wastewater connections", "#/1000 conn",
         ("staff_ww", "n_conn_ww"), lambda v: v["staff_ww"] / (v["n_conn_ww"] / 1000.0),
         lambda v: v["n_conn_ww"], "n_conn_ww", higher_is_better=False, source=S1),
    _ind("12.T", "Staff (W&WW) per 1000 W&WW connections", "#/1000 conn",
         ("staff_w", "staff_ww", "n_conn_w", "n_conn_ww"),
         lambda v: (v["staff_w"] + v["staff_ww"]) / ((v["n_conn_w"] + v["n_conn_ww"]) / 1000.0),
         lambda v: v["n_conn_w"] + v["n_conn_ww"], "n_conn_w + n_conn_ww", higher_is_better=False,
         source=S1),
    _ind("13.1", "Labour cost share of operating cost", "%", ("cost_labour", "opex"),
         _pct(lambda v: v["cost_labour"], lambda v: v["opex"]), lambda v: v["opex"], "opex", source=S1),
    _ind("13.2", "Electrical energy cost share of operating cost", "%", ("cost_energy", "opex"),
         _pct(lambda v: v["cost_energy"], lambda v: v["opex"]), lambda v: v["opex"], "opex", source=S1),
    _ind("18.1", "Average revenue per m³ sold", "LCU/m³", ("rev_op", "v_sold"),
         lambda v: v["rev_op"] / v["v_sold"], lambda v: v["v_sold"], "v_sold", money=True, source=S1),
    _ind("18.2", "Average revenue per connection per year", "LCU/conn/yr", ("rev_op", "ann", "n_conn_w"),
         lambda v: v["rev_op"] * v["ann"] / v["n_conn_w"], lambda v: v["n_conn_w"], "n_conn_w",
         annualised=True, money=True, source=S1),
    _ind("23.1", "Collection period", "days", ("ar_end", "rev_op", "D"),
         lambda v: v["ar_end"] / v["rev_op"] * v["D"], lambda v: v["rev_op"], "rev_op",
         higher_is_better=False, source=S1),
    _ind("23.2", "Collection ratio", "%", ("cash_collected", "rev_op"),
         _pct(lambda v: v["cash_collected"], lambda v: v["rev_op"]), lambda v: v["rev_op"], "rev_op",
         periods="Y,M", higher_is_better=True, source=S1),
    _ind("OCC", "Operating cost coverage", "ratio", ("rev_op", "opex"),
         lambda v: v["rev_op"] / v["opex"], lambda v: v["opex"], "opex", higher_is_better=True,
         source="operating ratio (UNC EFC 2015; AE2S Nexus 2014)"),
    _ind("E1", "Energy intensity", "kWh/m³", ("kwh_total", "v_produced"),
         lambda v: v["kwh_total"] / v["v_produced"], lambda v: v["v_produced"], "v_produced",
         periods="Y,M", higher_is_better=False, source="tirta design choice (reference §2)"),
    _ind("E2", "Standardised pumping energy", "kWh/m³/100 m", ("kwh_pump", "v_pumped", "head_m"),
         lambda v: v["kwh_pump"] / (v["v_pumped"] * v["head_m"] / 100.0),
         lambda v: v["v_pumped"] * v["head_m"], "v_pumped · head_m", higher_is_better=False,
         source="ECAM (IWA/GIZ WaCCliM)", notes=_e2_notes),
)
# fmt: on

#: each indicator's formula as the reference writes it (§2), published next to its value
FORMULAS: Final[dict[str, str]] = {
    "1.1": "100·(pop_hc + pop_pwp)/pop_area",
    "1.2": "100·pop_hc/pop_area",
    "1.3": "100·pop_pwp/pop_area",
    "2.1": "100·pop_sew/pop_area",
    "3.1": "1000·(v_produced − v_exported)/((pop_hc + pop_pwp)·D)",
    "3.2": "(v_produced − v_exported)/(n_conn_w·D·12/365)",
    "4.1": "1000·v_sold/((pop_hc + pop_pwp)·D)",
    "6.1": "100·(v_produced − v_exported − v_sold)/(v_produced − v_exported)",
    "6.2": "(v_produced − v_exported − v_sold)/(len_mains_km·D)",
    "6.3": "(v_produced − v_exported − v_sold)/(n_conn_w·D)",
    "RL": "1000·carl/(n_conn_w·D·hours_supply/24)",
    "UARL": "(18·len_mains_km + 0.8·n_conn_w + 25·len_private_km)·p_avg_m·D·hours_supply/24/1000",
    "ILI": "carl/UARL",
    "CD": "n_conn_w/len_mains_km",
    "7.1": "100·n_conn_metered/n_conn_w",
    "7.2": "100·v_sold_metered/v_sold",
    "9.1": "n_breaks·(365/D)/len_mains_km",
    "10.1": "n_blockages·(365/D)/len_sewer_km",
    "15.1": "hours_supply",
    "15.2": "100·n_cust_intermittent/n_cust",
    "15.3": "100·tests_done/tests_required",
    "15.4": "100·tests_pass/tests_done",
    "16.1": "100·n_complaints·(365/D)/(n_conn_w + n_conn_ww)",
    "17.1": "100·(v_ww_primary_only + v_ww_secondary)/v_ww_collected",
    "17.2": "100·v_ww_primary_only/v_ww_collected",
    "17.3": "100·v_ww_secondary/v_ww_collected",
    "11.1": "opex/v_sold",
    "11.2": "opex/v_produced",
    "12.1": "staff_w/(n_conn_w/1000)",
    "12.WW": "staff_ww/(n_conn_ww/1000)",
    "12.T": "(staff_w + staff_ww)/((n_conn_w + n_conn_ww)/1000)",
    "13.1": "100·cost_labour/opex",
    "13.2": "100·cost_energy/opex",
    "18.1": "rev_op/v_sold",
    "18.2": "rev_op·(365/D)/n_conn_w",
    "23.1": "ar_end/rev_op·D",
    "23.2": "100·cash_collected/rev_op",
    "OCC": "rev_op/opex",
    "E1": "kwh_total/v_produced",
    "E2": "kwh_pump/(v_pumped·head_m/100)",
}

_BY_ID: Final = {i.id: i for i in INDICATORS}


def indicator(id: str) -> Indicator:
    """The definition of indicator ``id`` (KeyError when unknown)."""
    return _BY_ID[id]
