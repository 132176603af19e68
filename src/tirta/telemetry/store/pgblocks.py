"""Readings packed one row per sensor and UTC day (``blocks``), built and read with numpy.

A year of 5-minute data from 120 sensors is 12.6 million rows in a row table but 43,800 blocks: bulk
loads write a few thousand rows instead of millions, and a query for some sensors reads their blocks
only, not every row of the period (rows of all sensors are interleaved in time). TimescaleDB's
compression does the same; this works on any PostgreSQL. A block holds its values, ``vals``
(float8[]), sorted by time, without NULLs, and their times: for evenly spaced readings (a logger's
day) just the step, ``step_us``, the times being ``t0 + i·step_us``; otherwise the array ``times``
(timestamptz[]). Only one of ``times`` and ``step_us`` is set. A year of 5-minute data then sends
and stores half the bytes, and the server converts no times. PostgreSQL's binary array format is a
20-byte header and then (length, value) per element, so numpy reads and writes it whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tirta.telemetry.store.pgcopy import PG_EPOCH_US, Coded

__all__ = [
    "BLOCK_READINGS", "DAY_US", "PG_EPOCH_DAY", "Blocks", "Merged", "block_rows", "block_times",
    "decode_arrays", "first_of_each", "merge",
    "occurrences", "pack", "sensor_days", "subset",
]  # fmt: skip

DAY_US = 86_400_000_000
PG_EPOCH_DAY = PG_EPOCH_US // DAY_US  # 2000-01-01 in days since the Unix epoch
_TIMESTAMPTZ, _FLOAT8 = 1184, 701  # element type oids
_ELEMENT_I8 = np.dtype([("n", ">i4"), ("x", ">i8")])
_ELEMENT_F8 = np.dtype([("n", ">i4"), ("x", ">f8")])
_ARRAY_HEADER = struct.Struct(">iiiii")  # ndim, has nulls, element oid, length, lower bound
_COUNT = struct.Struct(">i")
# the readings of the blocks ``b`` as rows u(time, value), for SQL (times made from the step if need be)
BLOCK_READINGS = (
    "unnest(coalesce(b.times, ARRAY(SELECT b.t0 + interval '1 microsecond' * (i * b.step_us) "
    "FROM generate_series(0, b.n - 1) AS i)), b.vals) AS u(time, value)"
)


@dataclass
class Blocks:
    """Readings grouped into blocks: readings ``lo[i]:hi[i]`` of ``readings`` (sorted by sensor code,
    then time) belong to sensor ``codes[i]`` on Unix day ``days[i]``."""

    readings: Coded
    codes: np.ndarray
    days: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    step_us: np.ndarray  # of evenly spaced blocks (0 for a single reading); -1 for the others
    dropped: int = 0  # repeats of a (sensor, time) left out, the first kept

    def __len__(self) -> int:
        return len(self.codes)


def pack(readings: Coded) -> Blocks:
    """Sort readings by (sensor, time) and cut them into one block per sensor and UTC day; a repeated
    (sensor, time) keeps its first reading (as validation does)."""
    codes, times, values = readings.codes, readings.time_us, readings.value
    dc, dt = np.diff(codes), np.diff(times)
    dropped = 0
    if not bool(np.all((dc > 0) | ((dc == 0) & (dt > 0)))):  # bulk loads come sorted, each key once
        if not _sorted(dc, dt):
            order = np.lexsort((times, codes))  # stable: the first of a repeat first
            codes, times, values = codes[order], times[order], values[order]
            dc, dt = np.diff(codes), np.diff(times)
        repeat = np.flatnonzero((dc == 0) & (dt == 0)) + 1
        if len(repeat):
            codes, times, values = (np.delete(a, repeat) for a in (codes, times, values))
            dc, dt = np.diff(codes), np.diff(times)
        dropped = len(repeat)
    days = np.floor_divide(times, DAY_US)
    cut = np.flatnonzero((dc != 0) | (np.diff(days) != 0)) + 1
    lo = np.concatenate([[0], cut]).astype(np.int64) if len(codes) else np.zeros(0, np.int64)
    hi = np.concatenate([cut, [len(codes)]]).astype(np.int64) if len(codes) else np.zeros(0, np.int64)
    packed = Coded(readings.names, codes, times, values)
    return Blocks(packed, codes[lo], days[lo], lo, hi, _steps(times, dt, lo, hi), dropped)


def _steps(times: np.ndarray, dt: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Each block's step in µs when its (sorted, distinct) times are evenly spaced, 0 for a block of
    one reading, else -1; ``dt`` holds the differences of consecutive ``times``."""
    n = hi - lo
    if not len(n):
        return np.zeros(0, np.int64)
    gaps = np.maximum(n - 1, 1)
    span = times[hi - 1] - times[lo]
    step = span // gaps
    even = span % gaps == 0
    off = dt != np.repeat(step, n)[:-1]  # difference j against the step of reading j's block
    off[hi[:-1] - 1] = False  # differences between one block and the next
    if off.any():
        uneven = np.searchsorted(hi, np.flatnonzero(off), side="right")  # blocks of those readings
        even[uneven] = False
    return np.where(even, step, -1)


def _sorted(dc: np.ndarray, dt: np.ndarray) -> bool:
    """Whether consecutive differences of codes and times are those of (sensor, time) order."""
    return not (bool(np.any(dc < 0)) or bool(np.any(dt[dc == 0] < 0)))


def block_rows(blocks: Blocks, chunk: int) -> Iterator[tuple[bytes, int]]:
    """Rows (sensor, day, t0, t1, n, step_us, times, vals) in the binary ``COPY`` layout (``times`` NULL
    for evenly spaced blocks, ``step_us`` NULL for the others), whole blocks holding at least ``chunk``
    readings at a time (the last run fewer); yields (data, readings in it). Every fixed part is built
    by numpy, the elements one chunk at a time (the server takes in a chunk while the next is built);
    the loop per block only joins a few slices."""
    r = blocks.readings
    n = blocks.hi - blocks.lo
    heads = _heads(blocks, n)
    even = (blocks.step_us >= 0).tolist()
    mid_buf = np.empty(_ARRAY_START.itemsize * len(blocks), np.uint8)
    mid = mid_buf.view(_ARRAY_START)
    mid["len"], mid["ndim"], mid["nulls"], mid["oid"] = 20 + 12 * n, 1, 0, _FLOAT8
    mid["dim"], mid["lower"] = n, 1
    mids = mid_buf.data
    size = _ARRAY_START.itemsize
    # cut the blocks into runs of at least ``chunk`` readings (the last may hold fewer); blocks are
    # contiguous and in order
    ends = np.cumsum(n)
    starts, stops = blocks.lo.tolist(), blocks.hi.tolist()
    first = 0
    while first < len(n):
        done = int(ends[first - 1]) if first else 0
        last = min(int(np.searchsorted(ends, done + chunk)) + 1, len(n))
        r0, r1 = starts[first], stops[last - 1]
        v_buf = np.empty(12 * (r1 - r0), np.uint8)
        v_el = v_buf.view(_ELEMENT_F8)  # written in place
        v_el["n"], v_el["x"] = 8, r.value[r0:r1]
        v_mv = v_buf.data
        t_mv = memoryview(b"")
        if not all(even[first:last]):  # times are sent only for blocks that are not evenly spaced
            t_buf = np.empty(12 * (r1 - r0), np.uint8)
            t_el = t_buf.view(_ELEMENT_I8)
            t_el["n"], t_el["x"] = 8, r.time_us[r0:r1] - PG_EPOCH_US
            t_mv = t_buf.data
        parts: list[Any] = []
        for i in range(first, last):
            lo, hi = 12 * (starts[i] - r0), 12 * (stops[i] - r0)
            if even[i]:
                parts += [heads[i], mids[size * i : size * (i + 1)], v_mv[lo:hi]]
            else:
                parts += [heads[i], t_mv[lo:hi], mids[size * i : size * (i + 1)], v_mv[lo:hi]]
        yield b"".join(parts), r1 - r0
        first = last


_ARRAY_START = np.dtype(
    [("len", ">i4"), ("ndim", ">i4"), ("nulls", ">i4"), ("oid", ">i4"), ("dim", ">i4"), ("lower", ">i4")]
)


def _heads(blocks: Blocks, n: np.ndarray) -> list[Any]:
    """Each block's row up to its first time (or, evenly spaced, its first value): field count,
    sensor, day, t0, t1, n, step_us and the header of times (NULL when evenly spaced)."""
    r = blocks.readings
    names = [name.encode() for name in r.names]
    length = np.array([len(b) for b in names], dtype=np.int64)[blocks.codes]
    first = r.time_us[blocks.lo] - PG_EPOCH_US
    last = r.time_us[blocks.hi - 1] - PG_EPOCH_US
    even = blocks.step_us >= 0
    heads: list[Any] = [b""] * len(blocks)
    for width in np.unique(length).tolist():
        for spaced in (True, False):
            sel = np.flatnonzero((length == width) & (even == spaced))
            if not len(sel):
                continue
            fields: list[Any] = [("fields", ">i2"), ("ls", ">i4")]
            fields += [("s", f"S{width}")] if width else []
            fields += [("ld", ">i4"), ("day", ">i4"), ("l0", ">i4"), ("t0", ">i8"), ("l1", ">i4")]
            fields += [("t1", ">i8"), ("ln", ">i4"), ("n", ">i4"), ("lstep", ">i4")]
            if spaced:  # step_us, then times NULL
                fields += [("step", ">i8"), ("ltimes", ">i4")]
            else:  # step_us NULL, then the header of times
                fields += _ARRAY_START.descr
            rec = np.empty(len(sel), dtype=np.dtype(fields))
            rec["fields"], rec["ls"] = 8, width
            if width:
                rec["s"] = np.array(names, dtype=object)[blocks.codes[sel]].astype(f"S{width}")
            rec["ld"], rec["day"] = 4, blocks.days[sel] - PG_EPOCH_DAY
            rec["l0"], rec["t0"], rec["l1"], rec["t1"] = 8, first[sel], 8, last[sel]
            rec["ln"], rec["n"] = 4, n[sel]
            if spaced:
                rec["lstep"], rec["step"], rec["ltimes"] = 8, blocks.step_us[sel], -1
            else:
                rec["lstep"] = -1
                rec["len"], rec["ndim"], rec["nulls"], rec["oid"] = 20 + 12 * n[sel], 1, 0, _TIMESTAMPTZ
                rec["dim"], rec["lower"] = n[sel], 1
            raw, size = memoryview(rec.tobytes()), rec.dtype.itemsize
            for j, i in enumerate(sel.tolist()):
                heads[i] = raw[size * j : size * (j + 1)]
    return heads


def block_times(
    datas: Sequence[bytes | None], t0_us: np.ndarray, step_us: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """The times (µs since the Unix epoch) of stored blocks one after the other: ``t0 + i·step`` for
    evenly spaced ones (``times`` NULL), else decoded from ``array_send(times)``."""
    n = np.asarray(n, dtype=np.int64)
    total = int(n.sum())
    starts = np.cumsum(n) - n
    spaced = np.array([d is None for d in datas], dtype=bool)
    step = np.where(spaced, np.asarray(step_us, dtype=np.int64), 0)
    out = np.repeat(np.asarray(t0_us, dtype=np.int64), n)
    out += (np.arange(total, dtype=np.int64) - np.repeat(starts, n)) * np.repeat(step, n)
    if not spaced.all():
        listed, _ = decode_arrays([d for d in datas if d is not None], "t")
        out[np.repeat(~spaced, n)] = listed
    return out


def decode_arrays(datas: Sequence[bytes], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Many such arrays at once: their elements one after the other, and each one's length. The
    elements of all arrays are joined without their headers and converted in one go (a block holds
    a few hundred readings: converting block by block cost more than the data)."""
    lengths = np.zeros(len(datas), dtype=np.int64)
    parts: list[memoryview] = []
    for i, data in enumerate(datas):
        if _COUNT.unpack_from(data)[0] == 0:  # an empty array: ndim, flags and oid only
            continue
        lengths[i] = _ARRAY_HEADER.unpack_from(data)[3]
        parts.append(memoryview(data)[_ARRAY_HEADER.size : _ARRAY_HEADER.size + 12 * int(lengths[i])])
    el = np.frombuffer(b"".join(parts), dtype=_ELEMENT_I8 if kind == "t" else _ELEMENT_F8)
    if kind == "t":
        return el["x"].astype(np.int64) + PG_EPOCH_US, lengths
    return el["x"].astype(float), lengths


@dataclass
class Merged:
    """The outcome of merging a batch into stored blocks: the blocks to write back, and which stored
    readings were replaced (``old`` values at ``codes``/``time_us``, for the correction history)."""

    blocks: Blocks
    replaced: Coded
    inserted: int
    duplicate: int
    corrected: int


def merge(stored: Coded, batch: Coded) -> Merged:
    """Merge ``batch`` into the ``stored`` readings of the same blocks (both with codes into the same
    names, keys unique within each): a new key is added, the same value is a duplicate, another value
    a correction. Only blocks that changed are returned, whole."""
    names = stored.names
    key_s, key_b = _keys(stored, batch)
    order = np.argsort(key_s, kind="stable")
    key_s = key_s[order]
    pos = np.searchsorted(key_s, key_b)
    pos_c = np.minimum(pos, max(len(key_s) - 1, 0))
    found = (pos < len(key_s)) & (key_s[pos_c] == key_b) if len(key_s) else np.zeros(len(key_b), bool)
    at = order[pos_c[found]]
    old = stored.value[at]
    new = batch.value[found]
    changed = old != new
    corrected = int(changed.sum())
    duplicate = int(found.sum()) - corrected
    fresh = ~found
    replaced = Coded(names, stored.codes[at[changed]], stored.time_us[at[changed]], old[changed])
    value = stored.value.copy()
    value[at[changed]] = new[changed]
    # blocks touched by an insert or a correction are written back whole
    touched_b = np.unique(sensor_days(batch.codes[fresh], batch.time_us[fresh]))
    touched_s = np.unique(sensor_days(stored.codes[at[changed]], stored.time_us[at[changed]]))
    touched = np.union1d(touched_b, touched_s)
    keep = np.isin(sensor_days(stored.codes, stored.time_us), touched)
    out = Coded(
        names,
        np.concatenate([stored.codes[keep], batch.codes[fresh]]),
        np.concatenate([stored.time_us[keep], batch.time_us[fresh]]),
        np.concatenate([value[keep], batch.value[fresh]]),
    )
    return Merged(pack(out), replaced, int(fresh.sum()), duplicate, corrected)


def subset(readings: Coded, mask: np.ndarray) -> Coded:
    """The readings where ``mask`` is true (or at the given positions)."""
    return Coded(readings.names, readings.codes[mask], readings.time_us[mask], readings.value[mask])


def occurrences(readings: Coded) -> list[Coded]:
    """Readings split so that no (sensor, time) repeats within a part: the first occurrence of each
    key goes to the first part, the second to the second, and so on (input order kept in each)."""
    empty = Coded(readings.names, readings.codes[:0], readings.time_us[:0], readings.value[:0])
    key, _ = _keys(readings, empty)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new_key = np.concatenate([[True], ordered[1:] != ordered[:-1]]) if len(key) else np.zeros(0, bool)
    if new_key.all():
        return [readings]
    position = np.arange(len(key))
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = position - np.maximum.accumulate(np.where(new_key, position, 0))
    return [subset(readings, np.flatnonzero(rank == r)) for r in range(int(rank.max()) + 1)]


def first_of_each(readings: Coded) -> tuple[Coded, int]:
    """Readings with each (sensor, time) once, the first kept (validation keeps the first too), and
    how many repeats were dropped."""
    empty = Coded(readings.names, readings.codes[:0], readings.time_us[:0], readings.value[:0])
    key, _ = _keys(readings, empty)
    _, first = np.unique(key, return_index=True)
    if len(first) == len(key):
        return readings, 0
    return subset(readings, np.sort(first)), len(key) - len(first)


def _keys(a: Coded, b: Coded) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per (sensor, time), comparable between ``a`` and ``b``: the sensor code in the high
    bits, the time since the earliest (or, for very long spans, its rank) in the low bits."""
    t = np.concatenate([a.time_us, b.time_us])
    c = np.concatenate([a.codes, b.codes]).astype(np.int64)
    if not len(t):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    low = t - t.min()
    bits = int(low.max()).bit_length()
    if int(c.max()).bit_length() + bits > 62:
        _, low = np.unique(t, return_inverse=True)
        bits = int(low.max()).bit_length()
    key = (c << bits) | low.astype(np.int64)
    return key[: len(a)], key[len(a) :]


def sensor_days(codes: np.ndarray, time_us: np.ndarray) -> np.ndarray:
    """One int64 per (sensor code, UTC day)."""
    return (codes.astype(np.int64) << 32) | (np.floor_divide(time_us, DAY_US) + (1 << 31))
