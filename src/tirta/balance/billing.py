"""Billing imports: billed volumes per account, DMA and calendar month, metered or not.

CSV columns (header required): ``account, dma, period, billed_m3, metered`` where ``period`` is a calendar
month ``YYYY-MM`` (the consumption month, not the invoice date) and ``metered`` is yes/no (true/false, 1/0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tirta.errors import InputError

__all__ = ["BILLING_COLUMNS", "BilledVolumes", "Billing", "load_billing"]

BILLING_COLUMNS = ("account", "dma", "period", "billed_m3", "metered")
_YES = {"yes", "y", "true", "1", "metered"}
_NO = {"no", "n", "false", "0", "unmetered"}


@dataclass(frozen=True)
class BilledVolumes:
    """Billed volumes of some DMAs in one month (m³) and how many accounts they come from."""

    metered_m3: float
    unmetered_m3: float
    accounts: int


@dataclass(frozen=True)
class Billing:
    """Billed volumes per DMA, month and metered flag (one row per account and month)."""

    frame: pd.DataFrame  # account, dma, month (Period[M]), billed_m3, metered (bool)
    source: str | None = None

    def volumes(self, dmas: Iterable[str], month: pd.Period) -> BilledVolumes:
        """Billed metered and unmetered volume of ``dmas`` for ``month``."""
        f = self.frame
        rows = f[f["dma"].isin(list(dmas)) & (f["month"] == month)]
        metered = float(rows.loc[rows["metered"], "billed_m3"].sum())
        unmetered = float(rows.loc[~rows["metered"], "billed_m3"].sum())
        return BilledVolumes(metered, unmetered, int(rows["account"].nunique()))

    def dmas(self) -> set[str]:
        return set(self.frame["dma"])


def _fail(path: Path, line: int, field: str, message: str) -> InputError:
    return InputError(message, file=path, line=line, field=field)


def load_billing(path: str | Path) -> Billing:
    """Read and check a billing CSV; InputError names the file, line and column of the first bad value."""
    p = Path(path)
    if not p.is_file():
        raise InputError("billing file not found", file=p)
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV: {exc}", file=p) from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    for col in BILLING_COLUMNS:
        if col not in raw.columns:
            raise InputError(
                f"missing column '{col}'; expected {', '.join(BILLING_COLUMNS)}",
                file=p,
                line=1,
                field=col,
            )
    lines = np.arange(len(raw)) + 2  # header is line 1
    for col in ("account", "dma"):
        empty = raw[col].str.strip() == ""
        if empty.any():
            raise _fail(p, int(lines[empty.to_numpy()][0]), col, "empty value")
    months = pd.to_datetime(raw["period"].str.strip(), format="%Y-%m", errors="coerce")
    bad = months.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(
            p, int(lines[i]), "period", f"expected a month YYYY-MM, got {raw['period'].iloc[i]!r}"
        )
    volume = pd.to_numeric(raw["billed_m3"].str.strip(), errors="coerce")
    bad = (volume.isna() | ~np.isfinite(volume) | (volume < 0)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(
            p,
            int(lines[i]),
            "billed_m3",
            f"expected a volume in m³ ≥ 0, got {raw['billed_m3'].iloc[i]!r}",
        )
    flag = raw["metered"].str.strip().str.lower()
    bad = (~flag.isin(_YES | _NO)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(p, int(lines[i]), "metered", f"expected yes or no, got {raw['metered'].iloc[i]!r}")
    frame = pd.DataFrame(
        {
            "account": raw["account"].str.strip(),
            "dma": raw["dma"].str.strip(),
            "month": months.dt.to_period("M"),
            "billed_m3": volume.astype(float),
            "metered": flag.isin(_YES),
        }
    )
    dup = frame.duplicated(["account", "month", "metered"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise _fail(p, int(lines[i]), "account", "account billed twice for the same month")
    return Billing(frame, str(p))
