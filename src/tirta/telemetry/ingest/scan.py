"""One pass over a batch of MQTT payloads that proves each is of the common shape in plain form and
reads its records: what RE2 (the shape) and DuckDB's JSON reader (the records) do in two passes.

The language is that of :data:`tirta.telemetry.ingest.batch._PLAIN` minus duplicate keys: an object
``{"sensor": text, "t": text, "v": number, "unit": text}`` (a key may be missing or null, at least one
present, none twice, no other) or a non-empty array of them, strings without escapes, any JSON
spacing. A batch with any other message is declined whole (None) and read as before. Numbers of at
most 15 digits and a power of ten within ±22 become a float in one correctly rounded operation;
the others go through Arrow's decimal reading (also correctly rounded), so every value is what
Python's ``json`` gives (an integer beyond the float range, which Python cannot make a float of, reads
as infinity and is rejected as not finite). Times written ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` with ``Z`` or ``±HH:MM`` (real
dates only) are parsed in the same call, off the committing thread; any other form leaves them all
to the rules' SQL. The kernels are compiled by Numba (nogil: the reading thread does not hold
the interpreter while it scans), once per machine and cached; without Numba nothing is scanned.
Per million readings (500-reading messages, 2-core EPYC): ~0.1 CPU-s, times included, against ~0.3
for DuckDB's reader plus RE2.
"""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import pyarrow as pa

# the records' times, parsed, when every one is written in the usual ISO-8601 form: the rules then
# take them as they are instead of parsing the texts
from tirta.telemetry.validate.rules import PARSED_TIME, PARSED_TIME_TYPE

__all__ = ["PARSED_TIME", "available", "scan_common"]

_MIN_OBJECT = 7  # bytes of the shortest object of the common shape, {"v":0}: bounds the records

_kernels: ModuleType | None = None
_missing = False


def _load() -> ModuleType | None:
    """The compiled kernels, imported on first use (Numba costs ~0.3 s to import); None without
    Numba."""
    global _kernels, _missing
    if _kernels is None and not _missing:
        try:
            from tirta.telemetry.ingest import _scan_kernels
        except Exception as exc:  # Numba is a dependency; a broken install still ingests, slower
            warnings.warn(
                f"tirta's compiled MQTT scanner is unavailable ({type(exc).__name__}: {exc}); "
                "MQTT batches are read by DuckDB, about a third slower. If Numba cannot write its "
                "cache (next to the package or in ~/.cache), set NUMBA_CACHE_DIR to a writable folder.",
                RuntimeWarning,
                stacklevel=2,
            )
            _missing = True
            return None
        _kernels = _scan_kernels
    return _kernels


def available() -> bool:
    """Whether batches can be scanned here (Numba imports); compiles the kernels on first call."""
    kernels = _load()
    if kernels is None:
        return False
    scan_common(pa.array(['{"sensor":"s","t":"x","v":1.5,"unit":"m"}', '[{"v":1e30}]']))
    return True


def scan_common(text: pa.Array) -> pa.Table | None:
    """Records (sensor, time, value, unit) of every message of ``text`` (UTF-8 checked: a string
    array), in order, when each message is of the common shape in plain form; else None."""
    kernels = _load()
    if kernels is None or not len(text):
        return None
    _, offsets_buf, data_buf = text.buffers()
    if data_buf is None or data_buf.size >= 2**31:
        return None
    first = text.offset
    bounds = np.frombuffer(offsets_buf, dtype=np.int32)[first : first + len(text) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    cap = (int(bounds[-1]) - int(bounds[0])) // _MIN_OBJECT + 1
    spans = np.empty((cap, 8), dtype=np.int64)
    values = np.empty(cap, dtype=np.float64)
    exact = np.empty(cap, dtype=np.bool_)
    n = int(kernels.scan(data, bounds, spans, values, exact))
    if n < 0:
        return None
    spans = spans[:n]
    value = values[:n]
    has_value = spans[:, 4] >= 0
    inexact = np.flatnonzero(has_value & ~exact[:n])
    if len(inexact):  # long mantissas, large exponents: Arrow reads the decimal text
        digits = _strings(kernels, data, np.ascontiguousarray(spans[inexact][:, 4:6]), 0)
        try:
            exact_values = digits.cast(pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # a number Arrow will not read: the batch goes the other way
            return None
        value = value.copy()
        value[inexact] = exact_values
    columns = {
        "sensor": _strings(kernels, data, spans, 0),
        "time": _strings(kernels, data, spans, 2),
        "value": pa.array(value, mask=None if has_value.all() else ~has_value),
        "unit": _strings(kernels, data, spans, 6),
    }
    micros = np.empty(n, dtype=np.int64)
    if n and kernels.times(data, spans, micros):  # every time plain ISO-8601 UTC or ±HH:MM: parsed here
        columns[PARSED_TIME] = pa.Array.from_buffers(PARSED_TIME_TYPE, n, [None, pa.py_buffer(micros)])
    return pa.table(columns)


def _strings(kernels: ModuleType, data: np.ndarray, spans: np.ndarray, column: int) -> pa.Array:
    """The strings at spans ``column``, ``column + 1`` as an Arrow string array (null where -1)."""
    n = len(spans)
    valid = spans[:, column] >= 0
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.where(valid, spans[:, column + 1] - spans[:, column], 0), out=offsets[1:])
    chars = np.empty(int(offsets[-1]), dtype=np.uint8)
    kernels.gather(data, spans, column, chars)
    mask = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), n, [mask, pa.py_buffer(offsets), pa.py_buffer(chars)])
