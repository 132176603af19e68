"""A city-scale synthetic network: street grid, trunk mains, pressure zones, DMAs and a sensor set.

Made for scale work (tens to hundreds of thousands of junctions) where no public model is that big.
The layout follows how utilities build networks: a grid of streets cut into blocks by trunk mains;
each block is a DMA of 1,000–3,000 connections fed from the trunks through two metered inlets (its
other boundary pipes are closed valves); inside a block a random spanning tree plus a share of the
remaining streets gives loops and dead ends; the city is cut into pressure zones, each with its own
sources and an elevated tank, joined by stand-by PRVs. Everything comes from one seed, byte for byte.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from tirta.errors import InputError

__all__ = ["SynthCity", "synth_city", "write_city"]

MIN_NODES: Final = 50
BLOCK: Final = 13  # trunk mains every 13th street: a block's 12×12 interior is one DMA
SPACING_M: Final = 100.0
M3_PER_CONNECTION_DAY: Final = 0.6  # 4.5 persons × ~130 L/person/day
JUNCTIONS_PER_SOURCE: Final = 4_000
EXTRA_LOOP_SHARE: Final = 0.35  # of the streets not in a block's spanning tree, kept as loops
DIURNAL: Final = (
    0.55, 0.5, 0.48, 0.5, 0.6, 0.85, 1.2, 1.45, 1.4, 1.25, 1.1, 1.05,
    1.05, 1.0, 0.95, 0.95, 1.0, 1.15, 1.35, 1.4, 1.25, 1.0, 0.8, 0.65,
)  # fmt: skip


@dataclass(frozen=True)
class SynthCity:
    """The generated city: the model text, the DMA file text and the BattLeDIM-style sensor set."""

    inp: str
    dmas_toml: str
    sensors: dict[str, list[str]]
    junctions: int
    dmas: int
    zones: int
    connections: int


def _grid(n: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def synth_city(nodes: int, seed: int = 0) -> SynthCity:
    """Generate a city of ``nodes`` junctions; InputError when fewer than :data:`MIN_NODES`."""
    if nodes < MIN_NODES:
        raise InputError(f"must be at least {MIN_NODES}, got {nodes}", field="--nodes")
    rng = np.random.default_rng(seed)
    rows, cols = _grid(nodes)
    idx = np.arange(nodes)
    r, c = idx // cols, idx % cols
    trunk = (r % BLOCK == 0) | (c % BLOCK == 0)
    x = c * SPACING_M + rng.uniform(-15, 15, nodes)
    y = r * SPACING_M + rng.uniform(-15, 15, nodes)
    # the ground falls from west to east with a gentle swell north–south
    elev = 60.0 - 45.0 * c / max(cols - 1, 1) + 4.0 * np.sin(2.6 * np.pi * r / max(rows, 1))
    elev = np.round(elev + rng.normal(0, 0.6, nodes), 2)

    n_bcols = math.ceil(cols / BLOCK)
    zones = 1 if nodes < 2_000 else int(min(4, max(2, n_bcols // 4)))
    bcol = c // BLOCK
    zone = np.minimum(bcol * zones // n_bcols, zones - 1)
    block = (r // BLOCK) * n_bcols + bcol

    # streets: horizontal and vertical neighbours that exist
    h = idx[(c < cols - 1) & (idx + 1 < nodes)]
    v = idx[idx + cols < nodes]
    a = np.concatenate([h, v])
    b = np.concatenate([h + 1, v + cols])
    same_line = np.concatenate([r[h] % BLOCK == 0, c[v] % BLOCK == 0])
    trunk_edge = trunk[a] & trunk[b] & same_line
    inner_edge = ~trunk[a] & ~trunk[b]
    boundary = trunk[a] != trunk[b]
    cross_zone = zone[a] != zone[b]

    # inside blocks: random spanning forest plus a share of the other streets (loops and dead ends)
    ia, ib = a[inner_edge], b[inner_edge]
    weights = rng.uniform(1.0, 2.0, len(ia))
    forest = minimum_spanning_tree(coo_matrix((weights, (ia, ib)), shape=(nodes, nodes)).tocsr())
    tree = forest.tocoo()
    tree_keys = np.minimum(tree.row, tree.col).astype(np.int64) * nodes + np.maximum(tree.row, tree.col)
    in_tree = np.isin(ia.astype(np.int64) * nodes + ib, tree_keys)
    keep_inner = in_tree | (rng.random(len(ia)) < EXTRA_LOOP_SHARE)
    keep = trunk_edge.copy()
    keep[np.flatnonzero(inner_edge)[keep_inner]] = True

    # each block: two inlets from the trunks on its boundary (same zone), the rest closed valves
    status = np.full(len(a), "Open", dtype=object)
    inlet = np.zeros(len(a), dtype=bool)
    bnd = np.flatnonzero(boundary & ~cross_zone)
    inner_node = np.where(trunk[a[bnd]], b[bnd], a[bnd])
    order = np.lexsort((rng.random(len(bnd)), block[inner_node]))
    grouped = block[inner_node][order]
    first = np.r_[True, grouped[1:] != grouped[:-1]]
    second = np.r_[False, first[:-1]] & ~first
    inlet[bnd[order[first | second]]] = True
    keep |= boundary
    status[boundary & ~inlet] = "Closed"
    # zone borders: trunk crossings become stand-by PRVs (two per border), other crossings closed
    prv = np.zeros(len(a), dtype=bool)
    for z in range(zones - 1):
        crossings = np.flatnonzero(trunk_edge & cross_zone & (np.minimum(zone[a], zone[b]) == z))
        if len(crossings):
            prv[rng.choice(crossings, size=min(2, len(crossings)), replace=False)] = True
    status[cross_zone & ~prv] = "Closed"

    # connections: each DMA (block interior) gets 1,000–3,000 spread over its junctions
    inner_nodes = idx[~trunk]
    blocks, inner_block = np.unique(block[inner_nodes], return_inverse=True)
    totals = rng.integers(1_000, 2_851, len(blocks))
    weight = rng.gamma(4.0, 1.0, len(inner_nodes))
    share = weight / np.bincount(inner_block, weights=weight)[inner_block]
    conns = np.zeros(nodes, dtype=np.int64)
    conns[inner_nodes] = np.maximum(1, np.floor(share * totals[inner_block])).astype(np.int64)
    by_block = np.argsort(inner_block, kind="stable")  # members of each block, in node order
    starts = np.searchsorted(inner_block[by_block], np.arange(len(blocks)))
    ends = np.r_[starts[1:], len(by_block)]
    heads = inner_nodes[by_block[starts]]
    conns[heads] += np.maximum(
        0, totals - np.bincount(inner_block, weights=conns[inner_nodes]).astype(np.int64)
    )
    demand_lps = conns * M3_PER_CONNECTION_DAY / 86.4

    # pipes: trunk diameters by hierarchy, street mains 100–150 mm, inlets 200 mm
    primary = np.concatenate([r[h] % (3 * BLOCK) == 0, c[v] % (3 * BLOCK) == 0]) & trunk_edge
    diam = np.where(primary, 700.0, np.where(trunk_edge, 350.0, rng.choice([100.0, 150.0], len(a))))
    diam[inlet] = 200.0
    length = np.round(np.hypot(x[a] - x[b], y[a] - y[b]), 1)
    rough = rng.integers(100, 131, len(a))

    lines = ["[TITLE]", f"tirta synthetic city: {nodes} junctions, seed {seed}", "", "[JUNCTIONS]"]
    lines += [f"J{i}\t{elev[i]:.2f}\t{demand_lps[i]:.5f}\tDIURNAL" for i in range(nodes)]
    # sources per zone on primary-trunk nodes, heads 38 m over the zone's highest ground
    src_lines, src_pipes, tanks, tank_pipes = [], [], [], []
    sensors_flow: list[str] = []
    zone_heads = []
    for z in range(zones):
        in_zone = idx[(zone == z) & trunk]
        on_primary = in_zone[(r[in_zone] % (3 * BLOCK) == 0) & (c[in_zone] % BLOCK == 0)]
        pool = on_primary if len(on_primary) else in_zone
        head = float(elev[zone == z].max()) + 38.0
        zone_heads.append(head)
        k = max(1, round(int((zone == z).sum()) / JUNCTIONS_PER_SOURCE))
        for j, node in enumerate(rng.choice(pool, size=min(k, len(pool)), replace=False)):
            name = f"R{z + 1}_{j + 1}"
            src_lines.append(f"{name}\t{head:.2f}")
            src_pipes.append(f"P{name}\t{name}\tJ{node}\t100\t1000\t130\t0\tOpen")
            sensors_flow.append(f"P{name}")
        far = pool[np.argmax(np.hypot(x[pool] - x[pool].mean(), y[pool] - y[pool].mean()))]
        tname = f"T{z + 1}"
        base = head - 10.0
        tanks.append(f"{tname}\t{base:.2f}\t6\t1\t10\t30\t0\t")
        tank_pipes.append(f"P{tname}\t{tname}\tJ{far}\t300\t300\t120\t0\tOpen")
    lines += ["", "[RESERVOIRS]", *src_lines, "", "[TANKS]", *tanks, "", "[PIPES]"]
    pipe_rows = np.flatnonzero(keep & ~prv)
    lines += [
        f"P{i}\tJ{a[i]}\tJ{b[i]}\t{length[i]:.1f}\t{diam[i]:.0f}\t{rough[i]}\t0\t{status[i]}"
        for i in pipe_rows
    ]
    lines += [*src_pipes, *tank_pipes, "", "[VALVES]"]
    for i in np.flatnonzero(prv):
        up, down = (a[i], b[i]) if zone[a[i]] < zone[b[i]] else (b[i], a[i])
        lines.append(f"PRV{i}\tJ{up}\tJ{down}\t300\tPRV\t30\t0")
    lines += ["", "[PATTERNS]", ";diurnal residential use"]
    lines += [f"DIURNAL\t{' '.join(f'{m:.2f}' for m in DIURNAL[k : k + 6])}" for k in range(0, 24, 6)]
    lines += [
        "",
        "[OPTIONS]",
        "Units\tLPS",
        "Headloss\tH-W",
        "Trials\t100",
        "Accuracy\t0.001",
        "Unbalanced\tContinue 10",
        "",
        "[TIMES]",
        "Duration\t24:00",
        "Hydraulic Timestep\t1:00",
        "Pattern Timestep\t1:00",
        "Report Timestep\t1:00",
        "",
        "[COORDINATES]",
    ]
    lines += [f"J{i}\t{x[i]:.1f}\t{y[i]:.1f}" for i in range(nodes)]
    for row in src_pipes + tank_pipes:
        name, _, node = row.split("\t")[:3]
        j = int(node[1:])
        lines.append(f"{name[1:]}\t{x[j] - 40:.1f}\t{y[j] - 40:.1f}")
    lines += ["", "[END]", ""]

    # DMAs and sensors
    dma_lines = [
        "# DMAs of the tirta synthetic city: each the interior of a block, fed from the trunk mains",
        "# through its metered inlets (its other boundary pipes are closed valves).",
        "",
    ]
    pressure, amrs = [], []
    inlets_of: dict[int, list[int]] = {}
    for i in np.flatnonzero(inlet):
        node = b[i] if trunk[a[i]] else a[i]
        inlets_of.setdefault(int(block[node]), []).append(int(i))
    for k, blk in enumerate(blocks):
        members = inner_nodes[by_block[starts[k] : ends[k]]]
        z = int(zone[members[0]])
        name = f"Z{z + 1}-{int(blk):04d}"
        ins = [f"P{i}" for i in inlets_of.get(int(blk), [])]
        sensors_flow += ins
        pressure += [f"J{m}" for m in rng.choice(members, size=min(2, len(members)), replace=False)]
        amrs += [f"J{m}" for m in members[rng.random(len(members)) < 0.02]]
        dma_lines += [
            "[[dma]]",
            f'name = "{name}"',
            f'description = "block {int(blk)} of pressure zone {z + 1}"',
            f"inlets = {json.dumps(ins)}",
            "outlets = []",
            f"connections = {int(conns[members].sum())}",
            f"nodes = {json.dumps([f'J{m}' for m in members])}",
            "",
        ]
    sensors = {
        "pressure_sensors": pressure,
        "flow_sensors": sensors_flow,
        "level_sensors": [f"T{z + 1}" for z in range(zones)],
        "amrs": amrs,
    }
    return SynthCity(
        inp="\n".join(lines),
        dmas_toml="\n".join(dma_lines),
        sensors=sensors,
        junctions=nodes,
        dmas=len(blocks),
        zones=zones,
        connections=int(conns.sum()),
    )


def write_city(city: SynthCity, out: str | Path) -> tuple[Path, Path, Path]:
    """Write ``out`` (.inp), ``<stem>.dmas.toml`` and ``<stem>.sensors.json`` beside it."""
    inp = Path(out)
    if inp.suffix.lower() != ".inp":
        raise InputError(f"expected a .inp file name, got {inp.name}", field="--out")
    inp.parent.mkdir(parents=True, exist_ok=True)
    dmas = inp.with_name(f"{inp.stem}.dmas.toml")
    sensors = inp.with_name(f"{inp.stem}.sensors.json")
    inp.write_text(city.inp, encoding="utf-8")
    dmas.write_text(city.dmas_toml, encoding="utf-8")
    sensors.write_text(json.dumps(city.sensors, indent=1) + "\n", encoding="utf-8")
    return inp, dmas, sensors
