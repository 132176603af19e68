"""Scenario elements the engine applies: leaks as orifice emitters, pressure-driven analysis.

A leak is an orifice on a node at the middle of a pipe: Q = Cd·A·√(2g·p), with the hole area A
fixed (abrupt, a step) or its diameter growing linearly to a peak (incipient), until a repair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tirta.errors import InputError
from tirta.units import G

__all__ = ["PDA", "Leak", "orifice_coefficient", "orifice_flow"]


def orifice_coefficient(diameter_m: float, cd: float = 0.75) -> float:
    """EPANET emitter coefficient (m³/s per m^0.5) of a round hole: Cd·A·√(2g)."""
    return cd * math.pi * diameter_m**2 / 4.0 * math.sqrt(2.0 * G)


def orifice_flow(diameter_m: float, pressure_m: float, cd: float = 0.75) -> float:
    """Flow through a round hole at a pressure head, m³/s: Cd·A·√(2g·p); zero below 0 m."""
    return orifice_coefficient(diameter_m, cd) * math.sqrt(max(pressure_m, 0.0))


@dataclass(frozen=True)
class PDA:
    """Pressure-driven analysis (EPANET 2.3): demand falls off between minimum and required."""

    minimum_pressure_m: float = 0.0
    required_pressure_m: float = 25.0
    exponent: float = 0.5

    def __post_init__(self) -> None:
        if not self.required_pressure_m > self.minimum_pressure_m:
            raise InputError(
                "PDA required pressure must exceed the minimum pressure",
                field="required_pressure_m",
            )


@dataclass(frozen=True)
class Leak:
    """A leak on ``pipe``: abrupt when ``peak`` is None or equals ``start``, else incipient.

    Times are seconds from the start of the simulation; ``end`` is the repair (None: never).
    The hole diameter ramps linearly from 0 at ``start`` to ``diameter_m`` at ``peak``.
    """

    pipe: str
    diameter_m: float
    start_s: float
    peak_s: float | None = None
    end_s: float | None = None
    cd: float = 0.75

    def __post_init__(self) -> None:
        if not self.diameter_m > 0:
            raise InputError(f"leak on {self.pipe}: hole diameter must be positive", field="diameter_m")
        if self.peak_s is not None and self.peak_s < self.start_s:
            raise InputError(f"leak on {self.pipe}: peak before start", field="peak")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise InputError(f"leak on {self.pipe}: repair before start", field="end")

    @property
    def kind(self) -> str:
        return "abrupt" if self.peak_s is None or self.peak_s <= self.start_s else "incipient"

    @property
    def node(self) -> str:
        """Id of the node inserted at the middle of the pipe to carry the emitter."""
        return f"{self.pipe}__leak"

    def diameter_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Hole diameter (m) at times ``t_s`` (s)."""
        t = np.asarray(t_s, dtype=float)
        if self.kind == "abrupt":
            d = np.where(t >= self.start_s, self.diameter_m, 0.0)
        else:
            assert self.peak_s is not None
            ramp = (t - self.start_s) / (self.peak_s - self.start_s)
            d = self.diameter_m * np.clip(ramp, 0.0, 1.0)
        if self.end_s is not None:
            d = np.where(t >= self.end_s, 0.0, d)
        return d

    def coefficient_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Emitter coefficient (m³/s per m^0.5) at times ``t_s``."""
        d = self.diameter_at(t_s)
        return self.cd * np.pi * d**2 / 4.0 * math.sqrt(2.0 * G)
