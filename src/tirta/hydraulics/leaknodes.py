"""Leak nodes: a pipe split at its middle by a new junction, where a leak's emitter then sits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from epanet import toolkit as tk

from tirta.errors import InputError

if TYPE_CHECKING:
    from tirta.hydraulics.engine import Engine

__all__ = ["split_pipe"]


def split_pipe(eng: Engine, pipe: str) -> str:
    """Split ``pipe`` at its middle: a junction ``<pipe>__leak`` (mean elevation of the ends) and a
    second half ``<pipe>__b``; the caller re-indexes the model. Returns the junction's id."""
    node_id = f"{pipe}__leak"
    ph = eng._ph
    if _exists(ph, node_id):
        return node_id
    try:
        li = tk.getlinkindex(ph, pipe)
    except Exception:
        raise InputError(f"unknown link '{pipe}'", file=eng.path) from None
    if tk.getlinktype(ph, li) not in (tk.PIPE, tk.CVPIPE):
        raise InputError(f"link '{pipe}' is not a pipe; leaks sit on pipes", field="pipe")
    eng._close_h()
    n1, n2 = tk.getlinknodes(ph, li)
    n1_id, n2_id = tk.getnodeid(ph, n1), tk.getnodeid(ph, n2)
    length = tk.getlinkvalue(ph, li, tk.LENGTH)
    diameter = tk.getlinkvalue(ph, li, tk.DIAMETER)
    roughness = tk.getlinkvalue(ph, li, tk.ROUGHNESS)
    minor = tk.getlinkvalue(ph, li, tk.MINORLOSS)
    status = tk.getlinkvalue(ph, li, tk.INITSTATUS)
    elevation = tk.getnodevalue(ph, n1, tk.ELEVATION) + tk.getnodevalue(ph, n2, tk.ELEVATION)
    x1, y1 = tk.getcoord(ph, n1)
    x2, y2 = tk.getcoord(ph, n2)
    new = tk.addnode(ph, node_id, tk.JUNCTION)
    tk.setnodevalue(ph, new, tk.ELEVATION, elevation / 2.0)
    tk.setcoord(ph, new, (x1 + x2) / 2.0, (y1 + y2) / 2.0)
    li = tk.getlinkindex(ph, pipe)
    tk.setlinknodes(ph, li, tk.getnodeindex(ph, n1_id), new)
    tk.setlinkvalue(ph, li, tk.LENGTH, length / 2.0)
    second = tk.addlink(ph, f"{pipe}__b", tk.PIPE, node_id, n2_id)
    tk.setpipedata(ph, second, length / 2.0, diameter, roughness, minor)
    tk.setlinkvalue(ph, second, tk.INITSTATUS, status)
    return node_id


def _exists(ph: Any, node_id: str) -> bool:
    try:
        tk.getnodeindex(ph, node_id)
    except Exception:
        return False
    return True
