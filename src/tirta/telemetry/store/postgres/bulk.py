"""The DuckDB side of a bulk load: a check's valid readings as arrays sorted by (sensor, time), the
order blocks are packed in (:mod:`tirta.telemetry.store.pgblocks`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tirta.telemetry.store.pgcopy import Coded
from tirta.telemetry.validate import valid_rows

__all__ = ["_by_sensor", "_time_to_sensor_major"]


def _by_sensor(
    con: Any, order: str | None, names: list[str], round_: int | None = None, *, all_valid: bool = False
) -> Coded:
    """The valid readings of a check (:mod:`tirta.telemetry.validate`) sorted by (sensor, time), the
    order blocks are packed in. Time-major input needs only a stable sort by sensor (radix, in NumPy),
    or just a transpose when every time step holds the same sensors. With ``round_``, only those of
    that round of corrections within the batch; ``all_valid`` says no row of the check is rejected."""
    rows = "_chk" if all_valid and round_ is None else valid_rows(round_)
    n = int(con.execute(f"SELECT count(*) FROM {rows}").fetchall()[0][0])
    select = f"SELECT k, epoch_us(time) AS t, value FROM {rows}"
    if order is None:  # DuckDB sorts on every core
        select += " ORDER BY k, t"
    k, t, v = _fetch_columns(con, select, n, [np.int32, np.int64, np.float64])
    if order == "time" and len(k):
        k, t, v = _time_to_sensor_major(k, t, v, len(names))
    return Coded(names, k.astype(np.int64, copy=False), t, v)


def _fetch_columns(con: Any, sql: str, n: int, dtypes: list[Any]) -> list[np.ndarray]:
    """The ``n`` rows of a DuckDB query without NULLs as NumPy arrays, batch after batch into arrays
    made once: a whole Arrow table would be copied again, and fresh memory is slow to touch."""
    out = [np.empty(n, dtype) for dtype in dtypes]
    at = 0
    for batch in con.sql(sql).to_arrow_reader(1 << 17):
        m = batch.num_rows
        for column, array in zip(batch.columns, out, strict=True):
            array[at : at + m] = column.to_numpy()
        at += m
    if at != n:
        raise RuntimeError(f"query gave {at} rows, counted {n}")
    return out


def _time_to_sensor_major(
    k: np.ndarray, t: np.ndarray, v: np.ndarray, n_names: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readings strictly by (time, sensor) re-ordered by (sensor, time): a stable sort by sensor. When
    every time step holds the same sensors (a logger export, say), the readings form a (time ×
    sensor) grid, each row's sensors ascending (a row may span several times), and the sort is a
    transpose."""
    repeat = np.flatnonzero(k[1 : n_names + 1] == k[0])  # a grid row ends where its first sensor recurs
    width = int(repeat[0]) + 1 if len(repeat) else len(k)
    if len(k) % width == 0:
        grid = k.reshape(-1, width)
        if bool(np.all(np.diff(grid[0]) > 0)) and bool((grid == grid[0]).all()):
            times = t.reshape(-1, width)
            column = times[:, 0]
            same = bool((times == column[:, None]).all())  # each row one time (not a staircase)
            return (
                np.repeat(grid[0].astype(np.int64), len(grid)),
                np.tile(column, width) if same else _transpose(t, width),
                _transpose(v, width),
            )
    narrow = np.int16 if n_names <= np.iinfo(np.int16).max else np.int32
    by = np.argsort(k.astype(narrow), kind="stable")
    return k[by], t[by], v[by]


def _transpose(a: np.ndarray, width: int, tile: int = 1024) -> np.ndarray:
    """A (rows × ``width``) array, flat, transposed to (``width`` × rows), flat: ``tile`` rows at a
    time, so the strided reads stay within a few memory pages (far faster on a virtual machine)."""
    rows = len(a) // width
    out = np.empty_like(a)
    into, grid = out.reshape(width, rows), a.reshape(rows, width)
    for lo in range(0, rows, tile):
        into[:, lo : lo + tile] = grid[lo : lo + tile].T
    return out
