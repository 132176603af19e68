"""Calibrate the hydraulic model on a leak-free period: demands per supply area, roughness per pipe group.

The model is driven by the measurements as the hydraulic-model detector drives it (zone inflows,
AMR meters, pumps, tank levels); a few multipliers (base demands of each supply area, Hazen-Williams
C or roughness of each pipe group) are fitted by least squares to the pressure sensors' hourly
readings, with a prior pulling each multiplier towards 1. Leak signatures computed on the
calibrated model see the network closer to how the sensors see it.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from tirta.hydraulics.engine import Engine
from tirta.leaks.detect.model import model_pressures
from tirta.network.model import Network, load_network
from tirta.telemetry.battledim import ScadaData

__all__ = ["Calibration", "calibrate", "calibrated_network", "roughness_groups", "supply_areas"]


def supply_areas(network: Network) -> dict[str, str]:
    """Junction → supply area: the parts the pipes connect once valves and pumps are cut."""
    links, nodes = network.links, network.nodes
    g: nx.Graph = nx.Graph()
    junctions = list(nodes.index[nodes["type"] == "Junction"])
    g.add_nodes_from(junctions)
    pipes = links[links["type"] == "Pipe"]
    g.add_edges_from(zip(pipes["start_node"], pipes["end_node"], strict=True))
    out: dict[str, str] = {}
    comps = sorted(nx.connected_components(g), key=lambda c: -len(c))
    for k, comp in enumerate(comps):
        for n in comp:
            if n in nodes.index and nodes.at[n, "type"] == "Junction":
                out[str(n)] = f"area {k + 1}"
    return out


def roughness_groups(network: Network, split_m: float = 0.125, min_pipes: int = 10) -> dict[str, str]:
    """Pipe → group by nominal roughness and diameter (≤ or > ``split_m``); groups with fewer than
    ``min_pipes`` pipes are left out (kept at their nominal roughness)."""
    pipes = network.links[network.links["type"] == "Pipe"]
    names = {
        str(p): f"roughness {r['roughness']:g}, {'d <= ' if r['diameter_m'] <= split_m else 'd > '}"
        f"{split_m * 1000:g} mm"
        for p, r in pipes.iterrows()
    }
    counts = pd.Series(names).value_counts()
    return {p: g for p, g in names.items() if counts[g] >= min_pipes}


@dataclass(frozen=True)
class Calibration:
    """Fitted multipliers of base demands (per area) and roughness (per group), and the fit (m)."""

    demand: dict[str, float]
    roughness: dict[str, float]
    rms_before_m: float
    rms_after_m: float
    areas: dict[str, str] = field(repr=False, default_factory=dict)
    groups: dict[str, str] = field(repr=False, default_factory=dict)
    nominal_roughness: dict[str, float] = field(repr=False, default_factory=dict)

    def apply(self, eng: Engine) -> None:
        """Scale the open model's base demands and pipe roughness by the fitted multipliers."""
        _apply(eng, self.areas, self.demand, self.groups, self.roughness, self.nominal_roughness)


def _apply(
    eng: Engine,
    areas: dict[str, str],
    demand: dict[str, float],
    groups: dict[str, str],
    roughness: dict[str, float],
    nominal: dict[str, float],
) -> None:
    for node, area in areas.items():
        m = demand.get(area, 1.0)
        if m == 1.0:
            continue
        for c, (base, _) in enumerate(eng.demands(node), start=1):
            eng.set_base_demand(node, base * m, category=c)
    for pipe, group in groups.items():
        m = roughness.get(group, 1.0)
        if m != 1.0:
            eng.set_roughness(pipe, nominal[pipe] * m)


def calibrate(
    network: Network,
    train: ScadaData,
    *,
    step: str = "2h",
    prior: float = 0.1,
    noise_m: float = 0.05,
    max_evals: int = 60,
) -> Calibration:
    """Fit demand multipliers per supply area and roughness multipliers per pipe group to the
    pressure sensors of a leak-free ``train`` period (SI); ``prior`` is the multipliers' spread."""
    from scipy.optimize import least_squares

    sensors = list(train.pressure.columns)
    areas = supply_areas(network)
    demand_of = network.nodes["base_demand_m3s"]
    area_names = sorted({a for n, a in areas.items() if float(demand_of.get(n, 0.0)) > 0})
    groups = roughness_groups(network)
    group_names = sorted(set(groups.values()))
    nominal = {p: float(network.links.at[p, "roughness"]) for p in groups}
    measured = train.pressure.resample(step).mean()

    def residual(theta: np.ndarray) -> np.ndarray:
        dem = dict(zip(area_names, theta[: len(area_names)], strict=True))
        rough = dict(zip(group_names, theta[len(area_names) :], strict=True))
        model = model_pressures(
            network,
            train,
            sensors,
            step=step,
            adjust=lambda eng: _apply(eng, areas, dem, groups, rough, nominal),
        )
        r = (measured.reindex(model.index) - model).to_numpy(dtype=float).ravel()
        r = r[np.isfinite(r)] / noise_m
        return np.r_[r / np.sqrt(max(len(r), 1)), (theta - 1.0) / prior]

    x0 = np.ones(len(area_names) + len(group_names))
    r0 = residual(x0)
    fit = least_squares(residual, x0, bounds=(0.5, 1.5), diff_step=0.02, max_nfev=max_evals, x_scale=0.1)
    n = len(r0) - len(x0)

    def rms(r: np.ndarray) -> float:
        return float(np.sqrt(np.mean((r[:n] * np.sqrt(n) * noise_m) ** 2)))

    return Calibration(
        demand=dict(zip(area_names, map(float, fit.x[: len(area_names)]), strict=True)),
        roughness=dict(zip(group_names, map(float, fit.x[len(area_names) :]), strict=True)),
        rms_before_m=rms(r0),
        rms_after_m=rms(fit.fun),
        areas=areas,
        groups=groups,
        nominal_roughness=nominal,
    )


def calibrated_network(
    network: Network, calibration: Calibration, folder: str | Path | None = None
) -> Network:
    """The network with the calibration applied, written as an EPANET file in ``folder`` (a new
    temporary folder by default) and loaded: signatures and detectors run on it as on any model."""
    out = Path(folder or tempfile.mkdtemp(prefix="tirta-calibrated-"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(network.path).stem}-calibrated.inp"
    with Engine(network) as eng:
        calibration.apply(eng)
        eng.save_inp(path)
    # EPANET 2.3 writes a [LEAKAGE] section and a BACKFLOW option (both unused here) wntr cannot read
    text = re.sub(r"\[LEAKAGE\][^\[]*", "", path.read_text(encoding="utf-8"))
    path.write_text(re.sub(r"(?m)^\s*BACKFLOW ALLOWED.*\n", "", text), encoding="utf-8")
    return load_network(path)
