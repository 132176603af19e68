"""Compiled kernels of :mod:`tirta.telemetry.ingest.scan` (Numba, compiled on first use and cached).

Kept apart so that importing the scanner costs nothing until a batch is scanned. The kernels allocate
nothing (the caller passes every array) and run without Numba's reference counting: with it, each
call of a helper that takes the buffer counts a reference up and down, ten times the cost of the
scan itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# 10**k for k = 0..22: exact in binary64, so m * 10**k and m / 10**k (m < 2**53) round once, correctly
_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)
_FAIL = -1  # not every message is of the plain common shape

_kernel = njit(nogil=True, cache=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: see above

# key numbers: the span columns of each field (start, end) are 2 * key, 2 * key + 1
_SENSOR, _T, _V, _UNIT = 0, 1, 2, 3


@_kernel
def _ws(buf: np.ndarray, i: int, end: int) -> int:
    while i < end:
        c = buf[i]
        if c != 32 and c != 9 and c != 10 and c != 13:
            break
        i += 1
    return i


@_kernel
def _string_end(buf: np.ndarray, i: int, end: int) -> int:
    """Index of the closing quote of a string whose content starts at ``i``; -1 when the string has an
    escape or a control character (or does not end)."""
    while i < end:
        c = buf[i]
        if c == 34:  # "
            return i
        if c == 92 or c < 32:  # backslash, control character
            return -1
        i += 1
    return -1


@_kernel
def _is_null(buf: np.ndarray, i: int, end: int) -> bool:
    return (
        i + 4 <= end and buf[i] == 110 and buf[i + 1] == 117 and buf[i + 2] == 108 and buf[i + 3] == 108
    )


@_kernel
def _key(buf: np.ndarray, i: int, j: int) -> int:
    """The field of the key ``buf[i:j]`` (sensor, t, v, unit), or -1 for any other key."""
    n = j - i
    if n == 1:
        if buf[i] == 116:
            return _T
        if buf[i] == 118:
            return _V
    elif n == 4:
        if buf[i] == 117 and buf[i + 1] == 110 and buf[i + 2] == 105 and buf[i + 3] == 116:
            return _UNIT
    elif (
        n == 6
        and buf[i] == 115
        and buf[i + 1] == 101
        and buf[i + 2] == 110
        and buf[i + 3] == 115
        and buf[i + 4] == 111
        and buf[i + 5] == 114
    ):
        return _SENSOR
    return -1


@_kernel
def _number(buf: np.ndarray, i: int, end: int, row: int, values: np.ndarray, exact: np.ndarray) -> int:
    """A JSON number at ``i``: its value into ``values[row]`` when exactly representable by one
    correctly rounded operation (``exact[row]`` true), else left to the caller. Index after it, or -1."""
    neg = False
    if i < end and buf[i] == 45:  # -
        neg = True
        i += 1
    if i >= end or buf[i] < 48 or buf[i] > 57:
        return -1
    m = 0
    digits = 0
    if buf[i] == 48:  # a leading 0 stands alone
        i += 1
        digits = 1
    else:
        while i < end and 48 <= buf[i] <= 57:
            if digits < 18:
                m = m * 10 + (buf[i] - 48)
            digits += 1
            i += 1
    frac = 0
    integer = True  # no fraction, no exponent: Python reads an int, and -0 is 0
    if i < end and buf[i] == 46:  # .
        integer = False
        i += 1
        if i >= end or buf[i] < 48 or buf[i] > 57:
            return -1
        while i < end and 48 <= buf[i] <= 57:
            if digits < 18:
                m = m * 10 + (buf[i] - 48)
            digits += 1
            frac += 1
            i += 1
    e = 0
    if i < end and (buf[i] == 101 or buf[i] == 69):  # e, E
        integer = False
        i += 1
        sign = 1
        if i < end and (buf[i] == 43 or buf[i] == 45):
            sign = -1 if buf[i] == 45 else 1
            i += 1
        if i >= end or buf[i] < 48 or buf[i] > 57:
            return -1
        while i < end and 48 <= buf[i] <= 57:
            if e < 100_000:
                e = e * 10 + (buf[i] - 48)
            i += 1
        e *= sign
    e -= frac
    if digits <= 15 and -22 <= e <= 22:  # m < 10**15 < 2**53: exact, and so is 10**|e|
        v = m * _POW10[e] if e >= 0 else m / _POW10[-e]
        values[row] = -v if neg and not (integer and m == 0) else v
        exact[row] = True
    else:
        exact[row] = False
    return i


@_kernel
def _object(
    buf: np.ndarray, i: int, end: int, row: int, spans: np.ndarray, values: np.ndarray, exact: np.ndarray
) -> int:
    """One object of the common shape at ``i`` (``{`` already checked) into row ``row``; index after
    its ``}``, or -1. At least one key, each key once, no other key."""
    for k in range(8):
        spans[row, k] = -1
    exact[row] = True
    values[row] = 0.0
    seen = 0
    i += 1
    while True:
        i = _ws(buf, i, end)
        if i >= end or buf[i] != 34:
            return -1
        j = _string_end(buf, i + 1, end)
        if j < 0:
            return -1
        key = _key(buf, i + 1, j)
        if key < 0 or seen & (1 << key):
            return -1
        seen |= 1 << key
        i = _ws(buf, j + 1, end)
        if i >= end or buf[i] != 58:  # :
            return -1
        i = _ws(buf, i + 1, end)
        if _is_null(buf, i, end):
            i += 4
        elif key == _V:
            start = i
            i = _number(buf, i, end, row, values, exact)
            if i < 0:
                return -1
            spans[row, 4] = start
            spans[row, 5] = i
        else:
            if i >= end or buf[i] != 34:
                return -1
            j = _string_end(buf, i + 1, end)
            if j < 0:
                return -1
            spans[row, 2 * key] = i + 1
            spans[row, 2 * key + 1] = j
            i = j + 1
        i = _ws(buf, i, end)
        if i >= end:
            return -1
        if buf[i] == 125:  # }
            return i + 1
        if buf[i] != 44:  # ,
            return -1
        i += 1


@_kernel
def scan(
    buf: np.ndarray,
    bounds: np.ndarray,
    spans: np.ndarray,
    values: np.ndarray,
    exact: np.ndarray,
) -> int:
    """Read every message ``buf[bounds[k]:bounds[k + 1]]``, each an object of the common shape or a
    non-empty array of them, in plain form (strings without escapes); the records' field spans go to
    ``spans`` (start, end per field; -1 for null), values to ``values``. Returns the number of records,
    or -1 when a message is not such a message (then nothing of the batch counts)."""
    row = 0
    for k in range(len(bounds) - 1):
        end = bounds[k + 1]
        i = _ws(buf, bounds[k], end)
        if i >= end:
            return _FAIL
        if buf[i] == 123:  # {
            i = _object(buf, i, end, row, spans, values, exact)
            if i < 0:
                return _FAIL
            row += 1
        elif buf[i] == 91:  # [
            i = _ws(buf, i + 1, end)
            while True:
                if i >= end or buf[i] != 123:
                    return _FAIL
                i = _object(buf, i, end, row, spans, values, exact)
                if i < 0:
                    return _FAIL
                row += 1
                i = _ws(buf, i, end)
                if i >= end:
                    return _FAIL
                if buf[i] == 93:  # ]
                    i += 1
                    break
                if buf[i] != 44:
                    return _FAIL
                i = _ws(buf, i + 1, end)
        else:
            return _FAIL
        if _ws(buf, i, end) != end:
            return _FAIL
    return row


@_kernel
def gather(buf: np.ndarray, spans: np.ndarray, column: int, chars: np.ndarray) -> None:
    """Copy the strings of one field (spans ``column``, ``column + 1``; nulls are -1) one after the
    other into ``chars``, sized by the caller."""
    at = 0
    for r in range(spans.shape[0]):
        s = spans[r, column]
        if s >= 0:
            for i in range(s, spans[r, column + 1]):
                chars[at] = buf[i]
                at += 1
