"""Effluent compliance: exceedances per sample and parameter, compliance %, rolling compliance.

Only effluent rows are judged. A value equal to its limit complies (compared in SI with a relative
tolerance of 1e-9, so 30 mg/L and 30,000 µg/L judge alike); pH is a range. Where the standard allows a
minimum % reduction (EU UWWTD) a sample above the concentration still complies when its influent of the
same sample shows that reduction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tirta.wastewater.standards import Limit, Standard

__all__ = ["ComplianceResult", "judge", "rolling_compliance"]

_REL_TOL = 1e-9


@dataclass(frozen=True)
class ComplianceResult:
    """Judged effluent samples: one row per (sample, parameter) with value, limit and verdict."""

    standard: Standard
    judged: pd.DataFrame  # sample, time, parameter, value, limit, unit, reduction_pct, exceeds
    samples: pd.DataFrame  # sample, time, compliant

    @property
    def compliance_pct(self) -> float | None:
        n = len(self.samples)
        return None if n == 0 else 100.0 * float(self.samples["compliant"].sum()) / n

    def exceedances(self) -> pd.DataFrame:
        """The judged rows that breach their limit, in time order."""
        return self.judged[self.judged["exceeds"]].sort_values(["time", "sample", "parameter"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer of ``tirta plant compliance``; values and limits in the standard's units."""
        pct = self.compliance_pct
        return {
            "standard": self.standard.id,
            "samples": len(self.samples),
            "compliant_samples": int(self.samples["compliant"].sum()),
            "compliance_pct": None if pct is None else round(pct, 2),
            "exceedances": [
                {
                    "sample": r["sample"],
                    "time": pd.Timestamp(r["time"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "parameter": r["parameter"],
                    "value": r["value"],
                    "limit": r["limit"],
                }
                for r in self.exceedances().to_dict("records")
            ],
        }


def _breach(value_si: float, limit: Limit) -> float | None:
    """The bound ``value_si`` breaches (in the limit's unit), None when it complies."""
    hi, lo = limit.max_si, limit.min_si
    if hi is not None and value_si > hi and not math.isclose(value_si, hi, rel_tol=_REL_TOL):
        return limit.max
    if lo is not None and value_si < lo and not math.isclose(value_si, lo, rel_tol=_REL_TOL):
        return limit.min
    return None


def judge(lab: pd.DataFrame, standard: Standard) -> ComplianceResult:
    """Judge the effluent rows of a lab frame (:func:`tirta.wastewater.lab.lab_frame`) against ``standard``."""
    eff = lab[lab["point"] == "effluent"]
    infl = lab[lab["point"] == "influent"].groupby(["sample", "parameter"])["value_si"].mean()
    rows: list[dict[str, Any]] = []
    for r in eff.itertuples(index=False):
        limit = standard.limits.get(str(r.parameter))
        if limit is None:
            continue
        bound = _breach(float(r.value_si), limit)
        reduction = None
        c_in = infl.get((r.sample, r.parameter))
        if c_in is not None and c_in > 0:
            reduction = 100.0 * (float(c_in) - float(r.value_si)) / float(c_in)
        min_red = limit.min_reduction_pct
        if bound is not None and min_red is not None and reduction is not None and reduction >= min_red:
            bound = None
        rows.append(
            {
                "sample": str(r.sample),
                "time": r.time,
                "parameter": str(r.parameter),
                "value": round(float(r.value_si) / limit.factor, 10),
                "limit": bound
                if bound is not None
                else (limit.max if limit.max is not None else limit.min),
                "unit": limit.unit,
                "reduction_pct": reduction,
                "exceeds": bound is not None,
            }
        )
    cols = ["sample", "time", "parameter", "value", "limit", "unit", "reduction_pct", "exceeds"]
    judged = pd.DataFrame(rows, columns=cols)
    judged["exceeds"] = judged["exceeds"].astype(bool)
    samples = (
        eff.groupby("sample", sort=False)["time"].min().rename("time").reset_index()
        if len(eff)
        else pd.DataFrame(
            {"sample": pd.Series(dtype=str), "time": pd.Series(dtype="datetime64[ns, UTC]")}
        )
    )
    bad = set(judged.loc[judged["exceeds"], "sample"])
    samples["compliant"] = ~samples["sample"].astype(str).isin(bad)
    return ComplianceResult(standard, judged, samples.sort_values("time").reset_index(drop=True))


def rolling_compliance(result: ComplianceResult, window: str = "365D") -> pd.Series:
    """Compliance % of the samples within the trailing ``window`` at each sample time (UTC index)."""
    s = result.samples.set_index("time")["compliant"].astype(float).sort_index()
    return (100.0 * s.rolling(window).mean()).rename("compliance_pct")
