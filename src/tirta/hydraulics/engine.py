"""An EPANET 2.3 toolkit session: open a model once, change it, solve it many times.

Units are converted once at open (flow m³/s, pressure m) so every value in and out is SI.
Each engine keeps its report and scratch files in its own temporary directory, so many engines
can run side by side in threads or processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from epanet import toolkit as tk

from tirta.errors import InputError, ModelError, SimulationError
from tirta.hydraulics.leaknodes import split_pipe
from tirta.hydraulics.period import INIT_COLD, INIT_WARM, QUANTITIES, Progress, Results, run_period
from tirta.hydraulics.scenarios import PDA, Leak
from tirta.network.epanet_check import check_with_epanet
from tirta.network.inpcheck import check_inp, read_inp_text
from tirta.network.model import Network

__all__ = ["QUANTITIES", "Engine", "Results", "Snapshot"]

_DAMPING = 0.1  # EPANET DAMPLIMIT: damp flow updates once the solution is this close

log = logging.getLogger("tirta.hydraulics")
_WARNED: set[tuple[str, str]] = set()  # (model, tank) whose clipped level was logged


@functools.lru_cache(maxsize=64)
def _epanet_accepts(path: str, mtime_ns: int, size: int) -> None:
    """EPANET's own check of a model file (cached per file version); raises :class:`ModelError`."""
    p = Path(path)
    check_with_epanet(p, read_inp_text(p), hydraulics=True)


def _refused(path: Path) -> None:
    """After EPANET refused a model: its check of the file apart, raising the one-line
    :class:`ModelError` that names the line when the file is at fault (returns when it is not)."""
    stat = path.stat()
    _epanet_accepts(str(path), stat.st_mtime_ns, stat.st_size)


@dataclass
class Snapshot:
    """One single-period solve: arrays in the engine's node/link order, SI units."""

    pressure_m: np.ndarray
    head_m: np.ndarray
    demand_m3s: np.ndarray
    flow_m3s: np.ndarray
    emitter_m3s: np.ndarray  # outflow through emitters (leaks), 0 where a node has none


class _Vector:
    """A reusable C double array with a zero-copy NumPy view."""

    def __init__(self, n: int) -> None:
        self.c = tk.doubleArray(max(n, 1))
        addr = int(self.c.cast())
        self.np = np.ctypeslib.as_array((ctypes.c_double * max(n, 1)).from_address(addr))[:n]


class Engine:
    """An open EPANET project for repeated solves (see module docstring).

    Parameters
    ----------
    model
        Path of an EPANET ``.inp`` file or a loaded :class:`Network`.
    pda
        Pressure-driven analysis settings; ``None`` keeps demand-driven analysis.
    warm_start
        Start each solve from the previous flows (faster for many small changes).
    start
        UTC timestamp of simulation time zero, used for result indexes.
    flow_change_m3s
        Extra convergence test on the largest flow change (EPANET FLOWCHANGE); 1e-6 makes small
        emitter (leak) flows exact where the model's relative ACCURACY alone leaves them loose.
    snapshots
        Open the solver at once, set up for single-period solves (:meth:`solve_snapshot`).

    EPANET's own check that it can solve the model is the engine's first solver set-up (at once
    with ``snapshots``, else at the first solve), not a throwaway project's, which would do the same
    set-up (the sparse-matrix ordering: 12 s on a 100,000-junction city) once more. When EPANET
    refuses, the file is checked apart to name the line at fault (:class:`ModelError`).
    """

    def __init__(
        self,
        model: str | Path | Network,
        *,
        pda: PDA | None = None,
        warm_start: bool = False,
        start: str | pd.Timestamp = "2021-01-01",
        flow_change_m3s: float | None = None,
        snapshots: bool = False,
    ) -> None:
        path = model.path if isinstance(model, Network) else Path(model)
        if not isinstance(model, Network):
            if not path.is_file():
                raise InputError("network file not found", file=path)
            check_inp(path)
        self.path = path
        self.warm_start = warm_start
        self.start = _utc(start)
        self._ph: Any = None
        self._h_open = False
        self._tmp = Path(tempfile.mkdtemp(prefix="tirta-epanet-"))
        ph = tk.createproject()
        try:
            tk.open(ph, str(path), str(self._tmp / "report.rpt"), "")
        except Exception as exc:
            with contextlib.suppress(Exception):
                tk.close(ph)
            tk.deleteproject(ph)
            shutil.rmtree(self._tmp, ignore_errors=True)
            _refused(path)  # the check's one-line error, naming the line
            raise ModelError(f"EPANET could not open the model: {exc}", file=path) from None
        self._ph = ph
        self.notes: list[str] = []  # what the engine changed to make a request possible
        self._clipped: set[str] = set()
        tk.setstatusreport(self._ph, tk.NO_REPORT)
        tk.setflowunits(self._ph, tk.CMS)
        tk.setoption(self._ph, tk.PRESS_UNITS, tk.METERS)
        tk.setoption(self._ph, tk.EMITEXPON, 0.5)
        tk.setoption(self._ph, tk.EMITBACKFLOW, 0)
        if flow_change_m3s is not None:
            tk.setoption(self._ph, tk.FLOWCHANGE, float(flow_change_m3s))
        if pda is not None:
            tk.setdemandmodel(
                self._ph, tk.PDA, pda.minimum_pressure_m, pda.required_pressure_m, pda.exponent
            )
        self.duration_s = int(tk.gettimeparam(self._ph, tk.DURATION))
        self.hydraulic_step_s = int(tk.gettimeparam(self._ph, tk.HYDSTEP))
        self.report_step_s = int(tk.gettimeparam(self._ph, tk.REPORTSTEP))
        self.pattern_step_s = int(tk.gettimeparam(self._ph, tk.PATTERNSTEP))
        self._leaks: dict[str, Leak] = {}
        self._reindex()
        if snapshots:
            tk.settimeparam(ph, tk.DURATION, 0)  # as solve_snapshot wants it: no re-opening
            try:
                self._open_h()
            except BaseException:
                self.close()
                raise

    # --- bookkeeping -------------------------------------------------------------------------
    def _reindex(self) -> None:
        ph = self._ph
        n_nodes = tk.getcount(ph, tk.NODECOUNT)
        n_links = tk.getcount(ph, tk.LINKCOUNT)
        self.node_ids: list[str] = [tk.getnodeid(ph, i) for i in range(1, n_nodes + 1)]
        self.link_ids: list[str] = [tk.getlinkid(ph, i) for i in range(1, n_links + 1)]
        self._node_index = {n: i + 1 for i, n in enumerate(self.node_ids)}
        self._link_index = {n: i + 1 for i, n in enumerate(self.link_ids)}
        types = [tk.getnodetype(ph, i) for i in range(1, n_nodes + 1)]
        self.tank_ids = [n for n, t in zip(self.node_ids, types, strict=True) if t == tk.TANK]
        self.junction_ids = [n for n, t in zip(self.node_ids, types, strict=True) if t == tk.JUNCTION]
        self._vn = {q: _Vector(n_nodes) for q in ("p", "h", "d", "e")}
        self._vl = _Vector(n_links)

    @staticmethod
    def _indexes(ids: list[str], lookup: Callable[[str], int]) -> np.ndarray:
        return np.array([lookup(i) - 1 for i in ids], dtype=int)

    def node_index(self, node: str) -> int:
        try:
            return self._node_index[node]
        except KeyError:
            raise InputError(f"unknown node '{node}'", file=self.path) from None

    def link_index(self, link: str) -> int:
        try:
            return self._link_index[link]
        except KeyError:
            raise InputError(f"unknown link '{link}'", file=self.path) from None

    def _close_h(self) -> None:
        if self._h_open:
            tk.closeH(self._ph)
            self._h_open = False

    def _open_h(self) -> None:
        """Set the hydraulic solver up (once until the network changes); a refusal is a one-line
        :class:`ModelError` naming the line of the file when the file itself is at fault."""
        if not self._h_open:
            try:
                tk.openH(self._ph)
            except Exception as exc:
                _refused(self.path)
                raise ModelError(
                    f"EPANET cannot set its hydraulic solver up: {exc}", file=self.path
                ) from None
            self._h_open = True

    # --- changes between runs ----------------------------------------------------------------
    def set_emitter(self, node: str, coefficient: float) -> None:
        """Set a node's emitter coefficient, m³/s per m^0.5 (0 removes it)."""
        tk.setnodevalue(self._ph, self.node_index(node), tk.EMITTER, float(coefficient))

    def get_emitter(self, node: str) -> float:
        return float(tk.getnodevalue(self._ph, self.node_index(node), tk.EMITTER))

    def set_base_demand(self, node: str, demand_m3s: float, category: int = 1) -> None:
        """Set the base demand (m³/s) of one demand category of a junction."""
        tk.setbasedemand(self._ph, self.node_index(node), category, float(demand_m3s))

    def get_base_demand(self, node: str, category: int = 1) -> float:
        idx = self.node_index(node)
        if tk.getnumdemands(self._ph, idx) < category:
            return 0.0
        return float(tk.getbasedemand(self._ph, idx, category))

    def set_link_status(self, link: str, is_open: bool) -> None:
        """Open or close a pipe, pump or valve for the following runs."""
        status = tk.OPEN if is_open else tk.CLOSED
        tk.setlinkvalue(self._ph, self.link_index(link), tk.INITSTATUS, status)

    def set_valve_setting(self, link: str, setting: float) -> None:
        """Set a valve's setting in SI (PRV/PSV/PBV in m, FCV in m³/s, TCV loss coefficient)."""
        tk.setlinkvalue(self._ph, self.link_index(link), tk.INITSETTING, float(setting))

    def set_roughness(self, pipe: str, roughness: float) -> None:
        tk.setlinkvalue(self._ph, self.link_index(pipe), tk.ROUGHNESS, float(roughness))

    def get_roughness(self, pipe: str) -> float:
        return float(tk.getlinkvalue(self._ph, self.link_index(pipe), tk.ROUGHNESS))

    def set_tank_level(self, tank: str, level_m: float) -> float:
        """Set a tank's initial water level, m above its bottom, clipped into the tank's
        [minimum, maximum] level (EPANET refuses others: a noisy gauge reads past them); returns it."""
        idx = self.node_index(tank)
        low = float(tk.getnodevalue(self._ph, idx, tk.MINLEVEL))
        high = float(tk.getnodevalue(self._ph, idx, tk.MAXLEVEL))
        level = min(max(float(level_m), low), high)
        if level != float(level_m) and tank not in self._clipped:
            self._clipped.add(tank)
            note = (
                f"tank '{tank}': level {float(level_m):.3f} m outside its range "
                f"[{low:.3f}, {high:.3f}] m of the model; clipped"
            )
            self.notes.append(note)
            if (str(self.path), tank) not in _WARNED:  # once per process: detectors reopen models
                _WARNED.add((str(self.path), tank))
                log.warning("%s: %s", self.path.name, note)
        tk.setnodevalue(self._ph, idx, tk.TANKLEVEL, level)
        return level

    def pattern_ids(self) -> list[str]:
        n = tk.getcount(self._ph, tk.PATCOUNT)
        return [tk.getpatternid(self._ph, i) for i in range(1, n + 1)]

    def get_pattern(self, pattern: str) -> np.ndarray:
        idx = tk.getpatternindex(self._ph, pattern)
        n = tk.getpatternlen(self._ph, idx)
        return np.array([tk.getpatternvalue(self._ph, idx, k) for k in range(1, n + 1)])

    def set_pattern(self, pattern: str, values: Sequence[float] | np.ndarray) -> None:
        """Replace a time pattern's multipliers."""
        idx = tk.getpatternindex(self._ph, pattern)
        vals = [float(v) for v in values]
        arr = tk.doubleArray(len(vals))
        for k, v in enumerate(vals):
            arr[k] = v
        tk.setpattern(self._ph, idx, arr, len(vals))

    def add_pattern(self, pattern: str, values: Sequence[float] | np.ndarray) -> None:
        """Add a time pattern (or replace the multipliers of an existing one)."""
        if pattern not in self.pattern_ids():
            tk.addpattern(self._ph, pattern)
        self.set_pattern(pattern, values)

    def set_demand_pattern(self, node: str, pattern: str, category: int = 1) -> None:
        """Drive one demand category of a junction by ``pattern`` (added with :meth:`add_pattern`)."""
        idx = tk.getpatternindex(self._ph, pattern)
        tk.setdemandpattern(self._ph, self.node_index(node), category, idx)

    def demand_patterns(self, node: str) -> list[str]:
        """Pattern id of each demand category of a junction, in order ("" where none is set)."""
        idx = self.node_index(node)
        out = []
        for c in range(1, tk.getnumdemands(self._ph, idx) + 1):
            pi = tk.getdemandpattern(self._ph, idx, c)
            out.append(tk.getpatternid(self._ph, pi) if pi > 0 else "")
        return out

    def demands(self, node: str) -> list[tuple[float, str]]:
        """(base demand m³/s, pattern id) of each demand category of a junction, as EPANET runs it:
        a category without a pattern of its own has the model's default pattern ("" if none)."""
        idx = self.node_index(node)
        out = []
        for c in range(1, tk.getnumdemands(self._ph, idx) + 1):
            pi = tk.getdemandpattern(self._ph, idx, c)
            pattern = tk.getpatternid(self._ph, pi) if pi > 0 else ""
            out.append((float(tk.getbasedemand(self._ph, idx, c)), pattern))
        return out

    def add_demand(self, node: str, demand_m3s: float, pattern: str = "") -> None:
        """Add a demand category (m³/s, optionally driven by ``pattern``) to a junction."""
        tk.adddemand(self._ph, self.node_index(node), float(demand_m3s), pattern, "")

    def set_controls_enabled(self, enabled: bool) -> None:
        """Enable or disable every simple control (e.g. to hold a pump in a status set by hand)."""
        for i in range(1, tk.getcount(self._ph, tk.CONTROLCOUNT) + 1):
            tk.setcontrolenabled(self._ph, i, 1 if enabled else 0)

    def set_times(
        self,
        *,
        duration_s: int | None = None,
        hydraulic_step_s: int | None = None,
        report_step_s: int | None = None,
        pattern_step_s: int | None = None,
    ) -> None:
        """Change the time parameters used by :meth:`run`."""
        for value, param, attr in (
            (duration_s, tk.DURATION, "duration_s"),
            (hydraulic_step_s, tk.HYDSTEP, "hydraulic_step_s"),
            (report_step_s, tk.REPORTSTEP, "report_step_s"),
            (pattern_step_s, tk.PATTERNSTEP, "pattern_step_s"),
        ):
            if value is not None:
                tk.settimeparam(self._ph, param, int(value))
                setattr(self, attr, int(value))

    def node_elevation(self, node: str) -> float:
        """Elevation of a junction or tank, or the head of a reservoir, m."""
        return float(tk.getnodevalue(self._ph, self.node_index(node), tk.ELEVATION))

    def set_reservoir_head(self, reservoir: str, head_m: float) -> None:
        """Set a reservoir's (fixed) head, m; with a head pattern it is the base value."""
        tk.setnodevalue(self._ph, self.node_index(reservoir), tk.ELEVATION, float(head_m))

    def add_junction(self, node: str, elevation_m: float, xy: tuple[float, float] | None = None) -> None:
        """Add a junction without demand (give it one with :meth:`add_demand`)."""
        self._close_h()
        idx = tk.addnode(self._ph, node, tk.JUNCTION)
        tk.setnodevalue(self._ph, idx, tk.ELEVATION, float(elevation_m))
        if xy is not None:
            tk.setcoord(self._ph, idx, float(xy[0]), float(xy[1]))
        self._reindex()

    def add_pipe(
        self, pipe: str, start: str, end: str, length_m: float, diameter_m: float, roughness: float
    ) -> None:
        """Add an open pipe (roughness in the model's head-loss formula: H-W C, or D-W mm)."""
        self._close_h()
        self.node_index(start), self.node_index(end)
        idx = tk.addlink(self._ph, pipe, tk.PIPE, start, end)
        # EPANET's SI units keep diameters in mm
        tk.setpipedata(self._ph, idx, float(length_m), 1000.0 * diameter_m, float(roughness), 0.0)
        self._reindex()

    def set_pipe_diameter(self, pipe: str, diameter_m: float) -> None:
        """Change a pipe's diameter, m."""
        tk.setlinkvalue(self._ph, self.link_index(pipe), tk.DIAMETER, 1000.0 * diameter_m)

    def link_diameters_m(self) -> np.ndarray:
        """Diameter of every link in the engine's order, m (pumps 0; valves their nominal size)."""
        tk.getlinkvalues(self._ph, tk.DIAMETER, self._vl.c)
        return self._vl.np / 1000.0

    def link_types(self) -> list[str]:
        """Kind of every link in the engine's order: 'pipe', 'pump' or 'valve'."""
        out = []
        for i in range(1, len(self.link_ids) + 1):
            t = tk.getlinktype(self._ph, i)
            out.append("pipe" if t in (tk.PIPE, tk.CVPIPE) else "pump" if t == tk.PUMP else "valve")
        return out

    def tank_level(self, tank: str) -> float:
        """A tank's initial water level, m above its bottom."""
        return float(tk.getnodevalue(self._ph, self.node_index(tank), tk.TANKLEVEL))

    def set_demand_model(self, pda: PDA | None) -> None:
        """Switch between demand-driven (``None``) and pressure-driven analysis for later solves."""
        self._close_h()
        if pda is None:
            tk.setdemandmodel(self._ph, tk.DDA, 0.0, 0.1, 0.5)
        else:
            tk.setdemandmodel(
                self._ph, tk.PDA, pda.minimum_pressure_m, pda.required_pressure_m, pda.exponent
            )

    def demand_multiplier(self) -> float:
        """The model's global DEMAND MULTIPLIER (it scales every demand, added ones included)."""
        return float(tk.getoption(self._ph, tk.DEMANDMULT))

    def add_leak_node(self, pipe: str) -> str:
        """Split ``pipe`` at its middle with a new junction and return that junction's id."""
        return self.add_leak_nodes([pipe])[0]

    def add_leak_nodes(self, pipes: Iterable[str]) -> list[str]:
        """Split many pipes at their middles (ids ``<pipe>__leak``), re-indexing the model once."""
        out = []
        try:
            for pipe in pipes:
                out.append(split_pipe(self, pipe))
        finally:
            self._reindex()
        return out

    def add_leak(self, leak: Leak) -> str:
        """Insert the node of ``leak`` and let :meth:`run` drive its emitter over time."""
        node = self.add_leak_node(leak.pipe)
        self._leaks[leak.pipe] = leak
        return node

    @property
    def leaks(self) -> list[Leak]:
        return list(self._leaks.values())

    # --- solves ------------------------------------------------------------------------------
    def solve_snapshot(self, time_s: int = 0) -> Snapshot:
        """One steady-state solve at ``time_s`` into the demand patterns, tanks at initial level."""
        ph = self._ph
        if tk.gettimeparam(ph, tk.DURATION) != 0 or not self._h_open:
            self._close_h()
            tk.settimeparam(ph, tk.DURATION, 0)
        tk.settimeparam(ph, tk.PATTERNSTART, int(time_s))
        self._open_h()
        tk.initH(ph, INIT_WARM if self.warm_start else INIT_COLD)
        tk.runH(ph)
        p, h, d = self._vn["p"], self._vn["h"], self._vn["d"]
        tk.getnodevalues(ph, tk.PRESSURE, p.c)
        tk.getnodevalues(ph, tk.HEAD, h.c)
        tk.getnodevalues(ph, tk.DEMANDFLOW, d.c)
        tk.getlinkvalues(ph, tk.FLOW, self._vl.c)
        e = self._vn["e"]
        tk.getnodevalues(ph, tk.EMITTER, e.c)
        has_emitter = e.np > 0
        tk.getnodevalues(ph, tk.EMITTERFLOW, e.c)  # EPANET leaves a guess where the coefficient is 0
        emitted = np.where(has_emitter, e.np, 0.0)
        return Snapshot(p.np.copy(), h.np.copy(), d.np.copy(), self._vl.np.copy(), emitted)

    def run(
        self,
        duration_s: int | None = None,
        *,
        report_step_s: int | None = None,
        nodes: Iterable[str] | None = None,
        links: Iterable[str] | None = None,
        quantities: Iterable[str] = QUANTITIES,
        progress: Progress | None = None,
    ) -> Results:
        """Extended-period run from time 0, reporting every report step; leaks follow their ramps.

        ``nodes`` and ``links`` restrict the columns kept (all by default); ``quantities`` (a subset
        of :data:`QUANTITIES`) the results fetched, the rest come back as empty frames. Raises
        :class:`SimulationError` if EPANET stops before the full duration. When EPANET cannot solve
        a step (Error 110: pumps and valves switching back and forth in a marginal model), the run
        is repeated once with flow damping (DAMPLIMIT), and the results say so.
        """
        args = (duration_s, report_step_s, nodes, links, quantities, progress)
        try:
            return run_period(self, *args)
        except SimulationError as exc:
            if "Error 110" not in str(exc) or tk.getoption(self._ph, tk.DAMPLIMIT) > 0:
                raise
        tk.setoption(self._ph, tk.DAMPLIMIT, _DAMPING)
        results = run_period(self, *args)
        results.warnings.insert(
            0,
            f"EPANET could not solve the model undamped (Error 110); re-run with DAMPLIMIT {_DAMPING}",
        )
        return results

    # --- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the project and remove its scratch files."""
        if self._ph is None:
            return
        self._close_h()
        try:
            tk.close(self._ph)
        finally:
            tk.deleteproject(self._ph)
            self._ph = None
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        with contextlib.suppress(Exception):
            self.close()


def _utc(value: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
