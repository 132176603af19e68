"""LandGEM first-order decay of landfilled waste into methane, vectorised over years and landfills.

Q_CH4(Y) = Σ_i Σ_j k·L0·(M_i/10)·e^(−k·t_ij) (EPA LandGEM v3.02), with tirta's age convention A: waste
accepted in year y contributes from year Y > y with ages t = (Y − y − 1) + j, j = 0.1 … 1.0.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tirta.errors import InputError

__all__ = [
    "CH4_DENSITY_KG_M3",
    "CH4_LHV_MJ_M3",
    "SUBSTEPS",
    "ipcc_fod_methane_t",
    "landgem_defaults",
    "methane_by_year",
    "methane_generation",
    "methane_loop",
]

#: ages j of the ten 0.1-year sections of a year's waste
SUBSTEPS = np.arange(1, 11) / 10.0
#: lower heating value of methane, MJ/Nm³ (landfill-gas.md §2; novasolver LandGEM tool)
CH4_LHV_MJ_M3 = 35.8
#: density of methane at 0 °C, kg/m³ (landfill-gas.md §2; novasolver uses 0.717)
CH4_DENSITY_KG_M3 = 0.717
_DEFAULTS = Path(__file__).resolve().parent.parent / "data" / "standards" / "landgem_defaults.toml"


@cache
def landgem_defaults() -> dict[str, dict[str, dict[str, float]]]:
    """The CAA and inventory default sets by landfill type (``data/standards/landgem_defaults.toml``)."""
    with _DEFAULTS.open("rb") as fh:
        data: dict[str, dict[str, dict[str, float]]] = tomllib.load(fh)
    return data


def _sections(k: np.ndarray) -> np.ndarray:
    """Σ_j e^(−k·j) over the ten 0.1-year sections, one value per k."""
    return np.exp(-np.multiply.outer(k, SUBSTEPS)).sum(axis=-1)


def methane_generation(
    mass_t: np.ndarray,
    k: np.ndarray | float,
    l0_m3_per_t: np.ndarray | float,
    *,
    method: str = "auto",
) -> np.ndarray:
    """Methane generated (m³/yr) per landfill and calculation year from waste accepted per year.

    ``mass_t`` is (landfills, years) or (years,), the waste accepted in each year of a common timeline;
    the result has the same shape, year Y holding the methane generated in Y (convention A). The cohort
    sum factors as e^(−k(Y−1))·Σ_(y<Y) M_y·e^(k·y), one cumulative sum over the years (``cumsum``); where
    e^(k·y) would overflow (k·years > 600) a recurrence over years, vectorised across landfills, is used.
    """
    mass = np.asarray(mass_t, dtype=float)
    single = mass.ndim == 1
    m2 = np.atleast_2d(mass)
    n, years = m2.shape
    kk = np.broadcast_to(np.asarray(k, dtype=float), (n,))
    l0 = np.broadcast_to(np.asarray(l0_m3_per_t, dtype=float), (n,))
    if method == "auto":
        method = "cumsum" if float(kk.max(initial=0.0)) * years <= 600.0 else "recurrence"
    stock = np.zeros((n, years))  # Σ_(y<Y) M_y·e^(−k(Y−y−1)), the decaying waste seen by year Y
    if method == "cumsum":
        t = np.arange(years, dtype=float)
        grown = np.cumsum(m2 * np.exp(np.outer(kk, t)), axis=1)
        stock[:, 1:] = grown[:, :-1] * np.exp(-np.outer(kk, t[:-1]))
    elif method == "recurrence":
        keep = np.exp(-kk)
        acc = np.zeros(n)
        for year in range(years):
            stock[:, year] = acc
            acc = acc * keep + m2[:, year]
    else:
        raise ValueError(f"unknown method {method!r}")
    q = stock * (kk * l0 * _sections(kk) / 10.0)[:, None]
    return q[0] if single else q


def methane_loop(mass_t: list[float], k: float, l0_m3_per_t: float) -> list[float]:
    """The same sum written term by term in pure Python: the test oracle and the benchmark baseline."""
    out = []
    for year in range(len(mass_t)):
        total = 0.0
        for i in range(year):
            for j in range(1, 11):
                t = (year - i - 1) + j / 10.0
                total += k * l0_m3_per_t * (mass_t[i] / 10.0) * math.exp(-k * t)
        out.append(total)
    return out


def methane_by_year(waste_t: pd.Series, k: float, l0_m3_per_t: float, end_year: int) -> pd.DataFrame:
    """Yearly methane (m³) and waste in place (t) from waste accepted per year (index: year) to ``end_year``."""
    if waste_t.empty:
        raise InputError("no waste accepted in any year", field="waste_t_per_year")
    first = int(waste_t.index.min())
    years = np.arange(first, end_year + 1)
    mass = waste_t.reindex(years, fill_value=0.0).to_numpy(dtype=float)
    q = methane_generation(mass, k, l0_m3_per_t)
    return pd.DataFrame(
        {
            "year": years,
            "waste_accepted_t": mass,
            "waste_in_place_t": np.cumsum(mass),
            "methane_m3": q,
        }
    )


def check_positive(
    value: Any, field: str, file: str | None, line: int | None, upper: float = 1e12
) -> float:
    """A finite number in (0, ``upper``] or an :class:`InputError` naming ``field``."""
    number = as_number(value, field, file, line)
    if not number > 0:
        raise InputError(f"must be greater than 0, got {value}", file=file, line=line, field=field)
    if number > upper:
        raise InputError(
            f"implausibly large: {value} (at most {upper:g})", file=file, line=line, field=field
        )
    return number


def as_number(value: Any, field: str, file: str | None, line: int | None) -> float:
    """A finite float from a TOML value (bools and strings are errors naming ``field``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"expected a number, got {value!r}", file=file, line=line, field=field)
    number = float(value)
    if not np.isfinite(number):
        raise InputError(f"expected a finite number, got {value!r}", file=file, line=line, field=field)
    return number


def ipcc_fod_methane_t(
    waste_t: np.ndarray,
    k: float,
    doc: float,
    docf: float = 0.5,
    mcf: float = 1.0,
    f: float = 0.5,
) -> np.ndarray:
    """Methane generated (t/yr) by the IPCC 2006 first-order decay (Vol. 5 ch. 3, no delay term).

    DDOCm deposited = W·DOC·DOCf·MCF; accumulated DDOCma_T = DDOCmd_T + DDOCma_(T−1)·e^(−k); decomposed
    DDOCma_(T−1)·(1 − e^(−k)); CH4 = decomposed · F · 16/12. Year T of ``waste_t`` holds the waste deposited
    in T; like LandGEM's convention A, it starts decaying the year after.
    """
    deposited = np.asarray(waste_t, dtype=float) * doc * docf * mcf
    keep = math.exp(-k)
    out = np.zeros_like(deposited)
    stock = 0.0
    for year, d in enumerate(deposited):
        decomposed = stock * (1.0 - keep)
        out[year] = decomposed * f * 16.0 / 12.0
        stock = stock * keep + d
    return out
