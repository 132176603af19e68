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
_POW10_INT = np.array([10**k for k in range(7)], dtype=np.int64)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

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
def _mantissa(buf: np.ndarray, i: int, end: int, m: int, digits: int) -> tuple[int, int, int]:
    """The run of digits at ``i`` appended to the mantissa ``m`` (the first 18 digits count; more make
    the number inexact anyway): index after the run, the mantissa, the digits seen in all."""
    while i < end and 48 <= buf[i] <= 57:
        if digits < 18:
            m = m * 10 + (buf[i] - 48)
        digits += 1
        i += 1
    return i, m, digits


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
    if buf[i] == 48:  # a leading 0 stands alone
        i, m, digits = i + 1, 0, 1
    else:
        i, m, digits = _mantissa(buf, i, end, 0, 0)
    frac = 0
    integer = True  # no fraction, no exponent: Python reads an int, and -0 is 0
    if i < end and buf[i] == 46:  # .
        integer = False
        if i + 1 >= end or buf[i + 1] < 48 or buf[i + 1] > 57:
            return -1
        before = digits
        i, m, digits = _mantissa(buf, i + 1, end, m, digits)
        frac = digits - before
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


@_kernel
def _digits(buf: np.ndarray, i: int, n: int) -> int:
    """The number written by the ``n`` digits at ``i``, or -1 when one is not a digit."""
    v = 0
    for k in range(i, i + n):
        c = buf[k]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@_kernel
def _days(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil, y >= 1)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


@_kernel
def times(buf: np.ndarray, spans: np.ndarray, out: np.ndarray) -> bool:
    """Every record's time (spans 2, 3) as microseconds since the epoch, UTC, into ``out``, when each
    is written ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`` with a real date; false as soon as one is not
    (missing, another form, a 31 April: the rules' SQL then reads the texts)."""
    prev_s, prev_e = -1, -1
    for r in range(spans.shape[0]):
        s, e = spans[r, 2], spans[r, 3]
        if s < 0 or e - s < 20:
            return False
        if r > 0 and e - s == prev_e - prev_s:  # a time-major batch repeats each time per sensor
            same = True
            for k in range(e - s):
                if buf[s + k] != buf[prev_s + k]:
                    same = False
                    break
            if same:
                out[r] = out[r - 1]
                prev_s, prev_e = s, e
                continue
        if buf[s + 4] != 45 or buf[s + 7] != 45 or buf[s + 10] != 84:  # - - T
            return False
        if buf[s + 13] != 58 or buf[s + 16] != 58:  # : :
            return False
        y, mo, d = _digits(buf, s, 4), _digits(buf, s + 5, 2), _digits(buf, s + 8, 2)
        h, mi, sec = _digits(buf, s + 11, 2), _digits(buf, s + 14, 2), _digits(buf, s + 17, 2)
        if y < 1 or mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 or mi < 0 or mi > 59:
            return False
        if sec < 0 or sec > 59:
            return False
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        month_days = 29 if mo == 2 and leap else _MONTH_DAYS[mo - 1]
        if d > month_days:
            return False
        i = s + 19
        micros = 0
        if buf[i] == 46:  # .
            i += 1
            start = i
            while i < e and 48 <= buf[i] <= 57:
                i += 1
            n = i - start
            if n < 1 or n > 6:
                return False
            micros = _digits(buf, start, n) * _POW10_INT[6 - n]
        zone = 0
        if i == e - 1 and buf[i] == 90:  # Z
            zone = 0
        elif i == e - 6 and (buf[i] == 43 or buf[i] == 45) and buf[i + 3] == 58:  # ±HH:MM
            zh, zm = _digits(buf, i + 1, 2), _digits(buf, i + 4, 2)
            if zh < 0 or zh > 23 or zm < 0 or zm > 59:
                return False
            zone = (zh * 60 + zm) * (1 if buf[i] == 43 else -1)
        else:
            return False
        seconds = _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone * 60
        out[r] = seconds * 1_000_000 + micros
        prev_s, prev_e = s, e
    return True
