"""Bands and reference values of the KPIs as data: ``data/kpis/bands.toml`` plus the ILI bands of tirta.balance."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tirta.balance import band_schemes

__all__ = ["BANDS_FILE", "KpiBand", "bands_for", "classify"]

BANDS_FILE = Path(__file__).resolve().parent.parent / "data" / "kpis" / "bands.toml"


@dataclass(frozen=True)
class KpiBand:
    """One band of one scheme: ``lower <= value < upper`` gets ``label``."""

    scheme: str
    kpi: str
    lower: float
    upper: float
    label: str
    source: str


@cache
def _all() -> tuple[KpiBand, ...]:
    with BANDS_FILE.open("rb") as fh:
        rows = tomllib.load(fh)["band"]
    out = [
        KpiBand(
            str(b["scheme"]),
            str(b["kpi"]),
            float(b["lower"]),
            float(b["upper"]),
            str(b["label"]),
            str(b["source"]),
        )
        for b in rows
    ]
    for name, scheme in band_schemes().items():  # ILI bands as tirta.balance has them (WBI)
        out += [
            KpiBand(name, "ILI", b.lower if i else 0.0, b.upper, b.band, scheme.title)
            for i, b in enumerate(scheme.bands)
        ]
    return tuple(out)


def bands_for(kpi: str) -> list[KpiBand]:
    """Every band row of indicator ``kpi``."""
    return [b for b in _all() if b.kpi == kpi]


def classify(kpi: str, value: float | None) -> list[KpiBand]:
    """The band of ``value`` in each scheme that has bands for ``kpi`` (none for a missing value)."""
    if value is None or not math.isfinite(value):
        return []
    return [b for b in bands_for(kpi) if b.lower <= value < b.upper]
