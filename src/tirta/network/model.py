"""The utility's hydraulic model: an EPANET ``.inp`` loaded through wntr, with SI tables.

A :class:`Network` keeps the wntr model for graph and GIS work and exposes node and link tables in
SI units (m, m³/s) so analytics never touch EPANET's unit systems.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import pandas as pd

from tirta.errors import InputError, ModelError
from tirta.network.epanet_check import check_with_epanet
from tirta.network.inpcheck import InpSummary, check_inp, normalise_for_wntr, read_inp_text

if TYPE_CHECKING:  # wntr takes seconds to import: only load_network needs it at run time
    import wntr

__all__ = ["Network", "Problem", "builtin_network_path", "load_network"]

_DATA = Path(__file__).resolve().parent.parent / "data"
_BUILTIN = {"l-town": _DATA / "l-town" / "L-TOWN.inp"}


def builtin_network_path(name: str) -> Path:
    """Path of a network shipped with tirta (``l-town``)."""
    try:
        return _BUILTIN[name.lower()]
    except KeyError:
        raise InputError(
            f"unknown built-in network '{name}'; expected one of {sorted(_BUILTIN)}"
        ) from None


@dataclass(frozen=True)
class Problem:
    """A model problem worth an engineer's attention; not fatal to loading."""

    kind: str
    elements: tuple[str, ...]
    message: str


class Network:
    """An EPANET network: wntr model plus SI node and link tables."""

    def __init__(self, wn: wntr.network.WaterNetworkModel, path: Path, check: InpSummary) -> None:
        self.wn = wn
        self.path = path
        self.name = path.stem
        self._check = check

    @classmethod
    def load(cls, path: str | Path) -> Network:
        """Load and check an ``.inp`` file; malformed input raises :class:`InputError`."""
        return load_network(path)

    @cached_property
    def nodes(self) -> pd.DataFrame:
        """One row per node: type, x, y, elevation_m, base_demand_m3s (sum of demand categories)."""
        rows = []
        for name, node in self.wn.nodes():
            kind = node.node_type
            x, y = (node.coordinates or (0.0, 0.0))[:2]
            if kind == "Junction":
                elevation = node.elevation
                demand = float(sum(d.base_value for d in node.demand_timeseries_list))
            elif kind == "Tank":
                elevation, demand = node.elevation, 0.0
            else:
                elevation, demand = node.base_head, 0.0
            rows.append((name, kind, float(x), float(y), float(elevation), demand))
        frame = pd.DataFrame(rows, columns=["id", "type", "x", "y", "elevation_m", "base_demand_m3s"])
        return frame.set_index("id")

    @cached_property
    def links(self) -> pd.DataFrame:
        """One row per link: type, start_node, end_node, length_m, diameter_m, roughness."""
        rows = []
        for name, link in self.wn.links():
            kind = link.link_type
            length = float(getattr(link, "length", 0.0)) if kind == "Pipe" else 0.0
            diameter = float(getattr(link, "diameter", 0.0) or 0.0)
            roughness = float(getattr(link, "roughness", float("nan"))) if kind == "Pipe" else None
            rows.append(
                (name, kind, link.start_node_name, link.end_node_name, length, diameter, roughness)
            )
        frame = pd.DataFrame(
            rows,
            columns=["id", "type", "start_node", "end_node", "length_m", "diameter_m", "roughness"],
        )
        return frame.set_index("id")

    def counts(self) -> dict[str, int]:
        """Number of junctions, tanks, reservoirs, pipes, pumps and valves."""
        wn = self.wn
        return {
            "junctions": wn.num_junctions,
            "tanks": wn.num_tanks,
            "reservoirs": wn.num_reservoirs,
            "pipes": wn.num_pipes,
            "pumps": wn.num_pumps,
            "valves": wn.num_valves,
        }

    @property
    def load_notes(self) -> list[str]:
        """What was rewritten for wntr's reader to load a model EPANET reads (e.g. ``6 AM``)."""
        return list(self._check.notes)

    @property
    def mains_length_km(self) -> float:
        """Total length of pipes, km."""
        return float(self.links.loc[self.links["type"] == "Pipe", "length_m"].sum()) / 1000.0

    def graph(self, *, pipes_only: bool = False) -> nx.Graph:
        """Undirected graph of the network, edges weighted by ``length`` in m (0 for pumps, valves).

        With ``pipes_only`` the pumps and valves are left out, which splits the network into the
        zones that pressure-reducing valves and pumps separate.
        """
        g: nx.Graph = nx.Graph()
        g.add_nodes_from(self.nodes.index)
        for link_id, row in self.links.iterrows():
            if pipes_only and row["type"] != "Pipe":
                continue
            g.add_edge(row["start_node"], row["end_node"], link=link_id, length=row["length_m"])
        return g

    def pipe_midpoint(self, pipe: str) -> tuple[float, float]:
        """Plan coordinates (x, y) of the middle of a link, from its end nodes."""
        row = self.links.loc[pipe]
        a = self.nodes.loc[row["start_node"]]
        b = self.nodes.loc[row["end_node"]]
        return (float(a["x"] + b["x"]) / 2.0, float(a["y"] + b["y"]) / 2.0)

    def problems(self) -> list[Problem]:
        """Model problems: disconnected nodes, zero-length pipes, missing coordinates and patterns."""
        found: list[Problem] = []
        g = self.graph()
        sources = set(self.wn.reservoir_name_list) | set(self.wn.tank_name_list)
        fed: set[str] = set()
        for comp in nx.connected_components(g):
            if comp & sources:
                fed |= comp
        lonely = sorted(set(g.nodes) - fed)
        if lonely:
            found.append(
                Problem(
                    "disconnected",
                    tuple(lonely),
                    f"{len(lonely)} node(s) not connected to any reservoir or tank",
                )
            )
        pipes = self.links[self.links["type"] == "Pipe"]
        zero = tuple(pipes.index[pipes["length_m"] <= 0])
        if zero:
            found.append(Problem("zero_length", zero, f"{len(zero)} pipe(s) with zero length"))
        no_xy = tuple(n for n in self.nodes.index if n not in self._check.coordinates)
        if no_xy:
            found.append(
                Problem("missing_coordinates", no_xy, f"{len(no_xy)} node(s) without coordinates")
            )
        for pattern, where in sorted(self._check.pattern_refs.items()):
            if pattern not in self._check.patterns:
                elems = tuple(e for _, e in where)
                found.append(
                    Problem(
                        "missing_pattern",
                        elems,
                        f"pattern '{pattern}' used by "
                        f"{len(elems)} element(s) (first at line {where[0][0]}) is not "
                        "defined in [PATTERNS]",
                    )
                )
        return found


def load_network(path: str | Path) -> Network:
    """Load an EPANET ``.inp`` file (UTF-8 or Latin-1) into a :class:`Network`.

    What EPANET reads, tirta reads: the text is normalised where wntr's reader is stricter than
    EPANET (see :func:`normalise_for_wntr`); what EPANET refuses raises one :class:`ModelError`
    naming EPANET's error and the line at fault.
    """
    import wntr

    p = Path(path)
    if not p.exists() and str(path).lower() in _BUILTIN:
        p = builtin_network_path(str(path))
    if not p.is_file():
        raise InputError("network file not found", file=p)
    text = read_inp_text(p)
    summary = check_inp(p, text)
    fixed, notes = normalise_for_wntr(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "changing the headloss formula"
            if not notes and (text.isascii() or _is_utf8(p)):
                wn = wntr.network.WaterNetworkModel(str(p))
            else:
                with tempfile.TemporaryDirectory(prefix="tirta-inp-") as tmp:
                    copy = Path(tmp) / p.name
                    copy.write_text(fixed, encoding="utf-8")
                    wn = wntr.network.WaterNetworkModel(str(copy))
    except Exception as exc:  # wntr raises bare ValueError/KeyError/AttributeError on bad input
        check_with_epanet(p, text)  # EPANET refuses it too: its own error, with the line
        raise _wntr_error(p, exc) from None
    summary.notes.extend(notes)
    return Network(wn, p, summary)


def _wntr_error(path: Path, exc: Exception) -> ModelError:
    """One line from a wntr reader error: no ``(%s)`` placeholder, the line number as a field."""
    cause = exc.__cause__ if exc.__cause__ is not None and "Error 200" in str(exc) else exc
    message = " ".join(str(cause).replace("(%s)", "").split())
    line = None
    if match := re.search(r",? at line (\d+):?", message):
        line = int(match.group(1))
        message = message[: match.start()] + (
            f" ({message[match.end() :].strip()})" if message[match.end() :].strip() else ""
        )
    return ModelError(
        f"wntr could not read the model (EPANET reads it): {message}", file=path, line=line
    )


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
