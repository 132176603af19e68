"""Check DMA definitions and the sensor registry against the hydraulic model, problem by problem.

A DMA's water balance is only right when every link crossing its boundary is metered (or closed)
and every declared meter sits on that boundary; a sensor is only useful on an element the model
has, of the kind it measures. These checks report, they do not refuse: ``tirta network info``
lists them beside the model's own problems.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tirta.network.dma import DMA
from tirta.network.model import Network, Problem
from tirta.network.sensors import KINDS, SensorRegistry

__all__ = ["dma_problems", "sensor_problems"]


def _closed_links(network: Network) -> set[str]:
    """Links the model starts closed (a boundary valve shut on purpose carries no flow)."""
    out = set()
    for name, link in network.wn.links():
        status = getattr(link, "initial_status", None)
        if status is not None and str(getattr(status, "name", status)).lower() == "closed":
            out.add(name)
    return out


def _buffer_tanks(dma: DMA, network: Network, members: set[str]) -> set[str]:
    """Tanks between a declared meter and the DMA (L-Town's C is fed by a pump through tank T1):
    a tank next to the DMA whose other links are all the DMA's declared inlets or outlets."""
    links = network.links
    metered = set(dma.inlets) | set(dma.outlets)
    out = set()
    tanks = network.nodes.index[network.nodes["type"] == "Tank"]
    for tank in tanks:
        touching = links[(links["start_node"] == tank) | (links["end_node"] == tank)]
        ends = set(touching["start_node"]) | set(touching["end_node"])
        if not ends & members:
            continue
        into_dma = touching["start_node"].isin(members) | touching["end_node"].isin(members)
        if set(touching.index[~into_dma]) <= metered and (~into_dma).any():
            out.add(str(tank))
    return out


def _describe(link: str, row: pd.Series) -> str:
    return f"{row['type'].lower()} '{link}' ({row['start_node']} → {row['end_node']})"


def _one_dma(dma: DMA, network: Network, closed: set[str]) -> list[Problem]:
    links = network.links
    members = set(dma.nodes)
    inside = members | _buffer_tanks(dma, network, members)
    a = links["start_node"].isin(inside)
    b = links["end_node"].isin(inside)
    boundary = set(links.index[a ^ b])
    found: list[Problem] = []
    declared = set(dma.inlets) | set(dma.outlets)
    unmetered = sorted(boundary - declared - closed)
    if unmetered:
        what = ", ".join(_describe(k, links.loc[k]) for k in unmetered[:3])
        found.append(
            Problem(
                "dma_unmetered_boundary",
                tuple(unmetered),
                f"DMA '{dma.name}': {len(unmetered)} open link(s) cross its boundary but are "
                f"neither inlet nor outlet, so the balance misses their flow: {what}",
            )
        )
    for role, ids in (("inlet", dma.inlets), ("outlet", dma.outlets)):
        for link in ids:
            if link not in links.index or link in boundary:
                continue
            row = links.loc[link]
            both = row["start_node"] in inside and row["end_node"] in inside
            where = "inside the DMA (both ends are its nodes)" if both else "away from the DMA"
            found.append(
                Problem(
                    f"dma_{role}_not_on_boundary",
                    (link,),
                    f"DMA '{dma.name}': {role} {_describe(link, row)} lies {where}; it does not "
                    "measure what crosses the boundary",
                )
            )
        for link in ids:
            if link not in boundary or links.at[link, "type"] != "Pump":
                continue
            row = links.loc[link]
            pumps_in = row["end_node"] in inside
            if pumps_in != (role == "inlet"):
                direction = "into" if pumps_in else "out of"
                found.append(
                    Problem(
                        f"dma_{role}_direction",
                        (link,),
                        f"DMA '{dma.name}': pump '{link}' is declared an {role} but pumps "
                        f"{direction} the DMA",
                    )
                )
    if not dma.inlets and boundary - closed:
        found.append(
            Problem(
                "dma_no_inlet",
                (dma.name,),
                f"DMA '{dma.name}' declares no inlet: its consumption cannot be measured",
            )
        )
    return found


def dma_problems(dmas: Sequence[DMA], network: Network) -> list[Problem]:
    """Boundary checks of each DMA (unmetered boundary links, meters off the boundary, pumps
    declared the wrong way) and nodes claimed by two DMAs."""
    closed = _closed_links(network)
    found: list[Problem] = []
    owner: dict[str, str] = {}
    shared: dict[str, list[str]] = {}
    for dma in dmas:
        found += _one_dma(dma, network, closed)
        for node in dma.nodes:
            if node in owner:
                shared.setdefault(f"{owner[node]}/{dma.name}", []).append(node)
            else:
                owner[node] = dma.name
    for pair, nodes in sorted(shared.items()):
        found.append(
            Problem(
                "dma_overlap",
                tuple(nodes),
                f"DMAs {pair} share {len(nodes)} node(s): their consumption is counted twice",
            )
        )
    return found


def sensor_problems(
    registry: SensorRegistry, network: Network, dmas: Sequence[DMA] = ()
) -> list[Problem]:
    """Sensors on elements the model lacks or of the wrong kind (a level gauge not on a tank, a
    pressure logger naming a link), and sensors whose declared DMA is not the DMA of their node."""
    nodes, links = network.nodes, network.links
    dma_of = {n: d.name for d in dmas for n in d.nodes}
    by_kind: dict[str, list[str]] = {}
    messages: dict[str, str] = {}

    def add(kind: str, sensor: str, message: str) -> None:
        by_kind.setdefault(kind, []).append(sensor)
        messages.setdefault(kind, message)

    for s in registry:
        element = s.element
        wants = KINDS[s.kind][3]
        known = element in nodes.index if wants == "node" else element in links.index
        if not known:
            other = element in links.index if wants == "node" else element in nodes.index
            if other:
                add(
                    "sensor_wrong_element",
                    s.id,
                    f"{s.kind} sensor '{s.id}' names '{element}', a "
                    f"{'link' if wants == 'node' else 'node'} of the model; {s.kind} is measured "
                    f"at a {wants}",
                )
            else:
                add(
                    "sensor_unknown_element",
                    s.id,
                    f"sensor '{s.id}' ({s.kind}) is on {wants} '{element}', which is not in "
                    f"{network.path.name}",
                )
            continue
        if s.kind == "level" and nodes.at[element, "type"] != "Tank":
            add(
                "sensor_level_not_tank",
                s.id,
                f"level sensor '{s.id}' is on {nodes.at[element, 'type'].lower()} '{element}', "
                "not a tank",
            )
        if s.dma and s.node and dma_of and dma_of.get(s.node) not in (None, s.dma):
            add(
                "sensor_dma_mismatch",
                s.id,
                f"sensor '{s.id}' is declared in DMA '{s.dma}' but its node '{s.node}' is in DMA "
                f"'{dma_of[s.node]}'",
            )
    out = []
    for kind, ids in by_kind.items():
        first = messages[kind]
        more = f" (and {len(ids) - 1} more)" if len(ids) > 1 else ""
        out.append(Problem(kind, tuple(ids), first + more))
    return out
