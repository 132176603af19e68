"""The IWA Benchmark Simulation Model No. 1 (BSM1), open loop, run through bsm2-python (``BSM1OL``).

tirta builds the influent (constant BSM1 influent, the package's dry/rain weather files, or a user CSV),
scales it for what-ifs (flow or load +X %), steps the package's model and reads its effluent, effluent
quality index and aeration/pumping/mixing energy. No ASM1 equations live here: bsm2-python (the optional
extra ``tirta[wastewater]``) is the model, verified by its authors against the MATLAB/Simulink reference.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from tirta.errors import InputError, ModelError
from tirta.wastewater.standards import Standard

__all__ = [
    "CONSTANT_INFLUENT",
    "DEFAULT_DAYS",
    "DEFAULT_STEP_MIN",
    "STATES",
    "Bsm1Result",
    "effluent_compliance",
    "influent",
    "run_bsm1",
]

#: ASM1 vector of bsm2-python: 13 states, TSS, Q, T and 5 dummy states
STATES: Final = (
    "S_I", "S_S", "X_I", "X_S", "X_BH", "X_BA", "X_P", "S_O", "S_NO", "S_NH", "S_ND", "X_ND", "S_ALK",
    "TSS", "Q", "T", "S_D1", "S_D2", "S_D3", "X_D4", "X_D5",
)  # fmt: skip
#: BSM1 constant influent (g/m³; S_ALK mol/m³; Q m³/d; T °C), bsm2-python tests/bsm1_ol_test.py
CONSTANT_INFLUENT: Final = (
    30.0, 69.5, 51.2, 202.32, 28.17, 0.0, 0.0, 0.0, 0.0, 31.56, 6.95, 10.59, 7.0,
    211.2675, 18446.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.0,
)  # fmt: skip
#: the shortest run that reproduces the 200-day MATLAB steady state within 1 % (see README benchmark)
DEFAULT_DAYS: Final = 100.0
DEFAULT_STEP_MIN: Final = 30.0
_WEATHER: Final = {"dry": "dryinfluent.csv", "rain": "raininfluent.csv"}
_LOAD_COLUMNS: Final = slice(0, 12)  # S_I … X_ND: the pollutant concentrations a load what-if scales
_TSS, _Q = 13, 14
_EVAL_DYNAMIC: Final = (7.0, 14.0)  # BSM1: evaluate days 7-14 of the 14-day weather files

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Bsm1Result:
    """Effluent of a BSM1 run (g/m³ unless named) with the plant's indices over its evaluation window."""

    influent: str
    days: float
    step_min: float
    effluent: dict[str, float]  # the 21-state vector at the end of the run
    aggregates: dict[str, float]  # COD, BOD5, TKN, N_tot at the end of the run
    eqi_kg_d: float
    iqi_kg_d: float
    aeration_energy_kwh_d: float
    pumping_energy_kwh_d: float
    mixing_energy_kwh_d: float
    sludge_blanket_m: float
    evaluated_days: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer of ``tirta plant bsm1``: effluent states and aggregates, EQI, energies."""
        eff = {k: round(v, 6) for k, v in self.effluent.items() if not k.startswith(("S_D", "X_D"))}
        return {
            "model": "BSM1 open loop (bsm2-python BSM1OL)",
            "influent": self.influent,
            "days": self.days,
            "step_min": self.step_min,
            "evaluated_days": list(self.evaluated_days),
            **eff,
            "Q_m3_d": round(self.effluent["Q"], 3),
            **{k: round(v, 6) for k, v in self.aggregates.items()},
            "EQI": round(self.eqi_kg_d, 3),
            "IQI": round(self.iqi_kg_d, 3),
            "aeration_energy_kwh_d": round(self.aeration_energy_kwh_d, 3),
            "pumping_energy_kwh_d": round(self.pumping_energy_kwh_d, 3),
            "mixing_energy_kwh_d": round(self.mixing_energy_kwh_d, 3),
            "sludge_blanket_m": round(self.sludge_blanket_m, 4),
        }


def _quiet_import(module: str) -> Any:
    """Import a bsm2-python module without its side effect: at import it points the root logger
    (INFO, every library's messages) at standard output, which would corrupt tirta's JSON output.
    The root logger's handlers and level are put back as they were."""
    import importlib
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return importlib.import_module(module)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _package_data(name: str) -> Path:
    bsm2_python = _quiet_import("bsm2_python")
    return Path(bsm2_python.__file__).resolve().parent / "data" / name


def influent(name: str | Path, days: float) -> tuple[np.ndarray, str]:
    """Influent table (time [d] + 21 states) for ``constant``, ``dry``, ``rain`` or a CSV path, and its label."""
    text = str(name)
    if text == "constant":
        row = np.asarray(CONSTANT_INFLUENT, dtype=float)
        return np.vstack([np.r_[0.0, row], np.r_[days + 1.0, row]]), "constant"
    path = _package_data(_WEATHER[text]) if text in _WEATHER else Path(text)
    if not path.is_file():
        raise InputError(
            f"unknown influent '{text}'; expected constant, {', '.join(_WEATHER)} or a CSV file",
            field="--influent",
        )
    rows: list[list[float]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, rec in enumerate(csv.reader(fh), start=1):
            if len(rec) != 1 + len(STATES):
                raise InputError(
                    f"{len(rec)} columns, expected time + {len(STATES)} states", file=path, line=line
                )
            for name, cell in zip(("time", *STATES), rec, strict=True):
                try:
                    float(cell)
                except ValueError:
                    raise InputError(
                        f"'{cell}' is not a number", file=path, line=line, field=name
                    ) from None
            rows.append([float(v) for v in rec])
    data = np.asarray(rows)
    if data.shape[0] < 2 or np.any(np.diff(data[:, 0]) <= 0):
        raise InputError("times must increase over at least two rows", file=path, field="time")
    return data, text if text in _WEATHER else path.name


def _scaled(data: np.ndarray, flow_pct: float, load_pct: float) -> np.ndarray:
    """Influent with flow ×(1+flow_pct/100) and pollutant load ×(1+load_pct/100) at that flow."""
    out = data.copy()
    out[:, 1 + _Q] *= 1.0 + flow_pct / 100.0
    out[:, 1 + _LOAD_COLUMNS.start : 1 + _LOAD_COLUMNS.stop] *= 1.0 + load_pct / 100.0
    out[:, 1 + _TSS] *= 1.0 + load_pct / 100.0
    return out


def run_bsm1(
    influent_name: str | Path = "constant",
    *,
    days: float | None = None,
    step_min: float = DEFAULT_STEP_MIN,
    flow_pct: float = 0.0,
    load_pct: float = 0.0,
    progress: Progress | None = None,
) -> Bsm1Result:
    """Run open-loop BSM1 for ``days`` at a coupling step of ``step_min`` minutes and read the effluent.

    Constant influent: ``days`` defaults to :data:`DEFAULT_DAYS` and the indices are those of the last
    step (steady state). Weather files: the whole file (14 d), indices averaged over days 7-14.
    """
    try:
        BSM1OL = _quiet_import("bsm2_python.bsm1_ol").BSM1OL
    except ImportError:
        raise ModelError(
            "BSM1 needs bsm2-python: pip install 'tirta[wastewater]'", field="bsm2-python"
        ) from None
    if step_min <= 0 or (days is not None and days <= 0):
        raise InputError("days and step must be positive", field="--days")
    steady = str(influent_name) == "constant"
    run_days = float(days if days is not None else (DEFAULT_DAYS if steady else 14.0))
    data, label = influent(influent_name, run_days)
    if not steady:
        run_days = min(run_days, float(data[-1, 0]))
    data = _scaled(data, flow_pct, load_pct)
    step_d = step_min / 1440.0
    if steady:
        window = (max(run_days - step_d, 0.0), run_days)
    else:
        window = _EVAL_DYNAMIC if run_days >= _EVAL_DYNAMIC[1] else (run_days / 2.0, run_days)
    model = BSM1OL(
        data_in=data,
        timestep=step_d,
        endtime=run_days,
        evaltime=np.asarray(window),
        tempmodel=False,
        activate=False,
    )
    n = min(len(model.simtime), len(model.timesteps))
    every = max(n // 100, 1)
    for i in range(n):
        model.step(i)
        if progress is not None and (i % every == 0 or i == n - 1):
            progress(i + 1, n)
    iqi, eqi, me, pe, ae = (float(v) for v in model.get_final_performance())
    eff = np.asarray(model.ys_eff, dtype=float)
    agg = model.performance.advanced_quantities(eff, ("COD", "BOD5e", "kjeldahlN", "totalN"))[0]
    if steady:  # steady state: the indices of the final state, not a window average
        iqi, eqi = float(model.iqi_all[n - 1]), float(model.eqi_all[n - 1])
        pe, ae, me = (float(v) for v in model.perf_factors_all[n - 1])
    return Bsm1Result(
        influent=label,
        days=run_days,
        step_min=step_min,
        effluent={k: float(v) for k, v in zip(STATES, eff, strict=True)},
        aggregates={
            "COD": float(agg[0]),
            "BOD5": float(agg[1]),
            "TKN": float(agg[2]),
            "N_tot": float(agg[3]),
        },
        eqi_kg_d=eqi,
        iqi_kg_d=iqi,
        aeration_energy_kwh_d=ae,
        pumping_energy_kwh_d=pe,
        mixing_energy_kwh_d=me,
        sludge_blanket_m=float(model.sludge_height),
        evaluated_days=(float(window[0]), float(window[1])),
    )


#: BSM1 effluent quantity judged for each lab parameter of a standard (g/m³ = mg/L)
_JUDGED: Final = {"BOD5": "BOD5", "COD": "COD", "TSS": "TSS", "NH3_N": "S_NH"}


def effluent_compliance(result: Bsm1Result, standard: Standard) -> dict[str, Any]:
    """The simulated effluent against ``standard``: value, limit and verdict per parameter it limits."""
    values = {**result.effluent, **result.aggregates}
    checks: dict[str, Any] = {}
    for parameter, key in _JUDGED.items():
        limit = standard.limits.get(parameter)
        if limit is None or limit.max_si is None:
            continue
        value = values[key]
        checks[parameter] = {
            "value": round(value, 4),
            "limit": limit.max,
            "complies": value * 1e-3 <= limit.max_si * (1 + 1e-9),
        }
    return {
        "standard": standard.id,
        "complies": all(c["complies"] for c in checks.values()),
        "parameters": checks,
    }
