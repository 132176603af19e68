"""Validation of incoming readings, the one gate every ingestion path goes through.

Raw records (sensor, time, value, unit as received) become readings in SI and UTC, or quarantine rows
with the raw payload and a reason. The rules are one SQL statement run by DuckDB over an Arrow table:
in the DuckDB store's own connection for bulk loads (the readings never leave the database), in a
throw-away in-memory connection for everything else. No loop per reading.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tirta.errors import InputError, UnitError
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.schema import QUARANTINE_COLUMNS, RAW_COLUMNS, READING_COLUMNS
from tirta.units import parse_unit

__all__ = [
    "FUTURE_TOLERANCE", "Checked", "Validated", "check", "raw_table", "round_sizes", "sensor_table",
    "valid_rows", "validate",
]  # fmt: skip

FUTURE_TOLERANCE = pd.Timedelta(minutes=5)
EARLIEST = pd.Timestamp("1900-01-01", tz="UTC")  # earlier times are bad timestamps, as infinite ones
RUN_MIN = 8  # readings per run of one time text, on average, for parsing times once per run
PERIOD_MAX = 100_000  # sensors per time step looked for in a time-major file
_EPOCH_LIMIT_S = 253_402_300_800  # 10000-01-01: larger numbers are not Unix seconds


@dataclass
class Validated:
    """A validated batch: ``readings`` (sensor, time UTC, value SI), ``quarantine`` rows, and the
    number of exact repeats of a reading within the batch (``duplicates``, dropped, nothing lost)."""

    readings: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: int

    def reasons(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.quarantine["reason"].value_counts().items()}


def sensor_table(registry: SensorRegistry) -> pd.DataFrame:
    """The registry as a frame indexed by sensor id: quantity, valid_min, valid_max (SI), installed (UTC)."""
    rows = [(s.id, s.quantity, s.valid_min, s.valid_max, s.installed) for s in registry]
    table = pd.DataFrame(rows, columns=["id", "quantity", "valid_min", "valid_max", "installed"])
    table["installed"] = pd.to_datetime(table["installed"], utc=True)
    return table.set_index("id")


# --- raw records as Arrow -------------------------------------------------------------------------
def _arrow_column(values: pd.Series, name: str) -> pa.Array:
    """A column in a type the checks understand: text, UTC/naive timestamps or numbers (time, value)."""
    dtype = values.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if name == "time" and isinstance(dtype, pd.DatetimeTZDtype):
        return pa.array(values.dt.tz_convert("UTC").astype("datetime64[us, UTC]"))
    if name == "time" and pd.api.types.is_datetime64_dtype(dtype):
        return pa.array(values.astype("datetime64[us]"))
    if name in ("time", "value") and numeric:
        # in a numeric column NaN means a missing value; in text, "nan" and "inf" are numbers
        return pa.array(values.to_numpy(dtype=float, na_value=np.nan), from_pandas=True)
    return pa.array(values.astype("string"), type=pa.string(), from_pandas=True)


def raw_table(raw: pd.DataFrame | pa.Table) -> pa.Table:
    """Raw records as an Arrow table with a row number ``_rn``; every column but time and value is text."""
    if isinstance(raw, pd.DataFrame):
        missing = [c for c in RAW_COLUMNS if c not in raw.columns]
        if missing:
            raise InputError(f"records lack the column '{missing[0]}'", field=missing[0])
        names = [str(c) for c in raw.columns]
        arrays = [_arrow_column(raw.iloc[:, i], names[i]) for i in range(raw.shape[1])]
        table = pa.Table.from_arrays(arrays, names=names)
    else:
        missing = [c for c in RAW_COLUMNS if c not in raw.column_names]
        if missing:
            raise InputError(f"records lack the column '{missing[0]}'", field=missing[0])
        table = raw
    if "_rn" not in table.column_names:
        table = table.append_column("_rn", _chunked_like(table, np.arange(table.num_rows)))
    return table


def _chunked_like(table: pa.Table, values: np.ndarray) -> pa.ChunkedArray:
    """``values`` as a column chunked like the table's first column (DuckDB scans aligned batches)."""
    column = table.column(0)
    if column.num_chunks <= 1:
        return pa.chunked_array([pa.array(values)])
    bounds = np.cumsum([0, *(len(c) for c in column.chunks)])
    return pa.chunked_array([pa.array(values[a:b]) for a, b in itertools.pairwise(bounds)])


def _time_sql(kind: pa.DataType) -> str:
    """UTC time of column ``time``, NULL where unparsable; naive times are UTC, numbers Unix seconds."""
    if pa.types.is_timestamp(kind):
        return "CAST(r.time AS TIMESTAMPTZ)"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        t = "CAST(r.time AS DOUBLE)"
        return f"CASE WHEN isfinite({t}) AND abs({t}) < {_EPOCH_LIMIT_S} THEN to_timestamp({t}) END"
    # text: an ISO-8601 time, else a plain number of Unix seconds (as the API's JSON numbers)
    seconds = "TRY_CAST(r.time AS DOUBLE)"
    return (
        f"coalesce(TRY_CAST(r.time AS TIMESTAMPTZ), CASE WHEN regexp_full_match(trim(r.time), "
        f"'[+-]?[0-9]+(\\.[0-9]*)?') AND abs({seconds}) < {_EPOCH_LIMIT_S} "
        f"THEN to_timestamp({seconds}) END)"
    )


def _value_sql(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "CAST(r.value AS DOUBLE)"
    return "TRY_CAST(r.value AS DOUBLE)"


# --- the rules ------------------------------------------------------------------------------------
# Each row's pair attributes come from lists indexed by its pair number (no join): the result keeps
# the input order, so repeats can be ruled out by comparing each row with the one before it.
CHECK = """
CREATE OR REPLACE TEMP TABLE _chk AS
SELECT _rn, pair, k, time, v * factor AS value,
       CASE WHEN malformed THEN 'malformed row'
            WHEN fault = 1 THEN 'unknown sensor'
            WHEN time IS NULL OR NOT isfinite(time) OR time < $earliest THEN 'bad timestamp'
            WHEN v IS NULL THEN 'not a number'
            WHEN NOT isfinite(v) THEN 'not finite'
            WHEN fault = 2 THEN 'unit missing'
            WHEN factor IS NULL THEN 'unit not convertible'
            WHEN v * factor < valid_min OR v * factor > valid_max THEN 'out of range'
            WHEN time > $future THEN 'future'
            WHEN time < installed THEN 'before installed'
       END AS reason
FROM (SELECT r._rn, r._key AS pair, CAST($k AS INTEGER[])[r._key + 1] AS k,
             CAST($fault AS TINYINT[])[r._key + 1] AS fault,
             CAST($factor AS DOUBLE[])[r._key + 1] AS factor,
             CAST($valid_min AS DOUBLE[])[r._key + 1] AS valid_min,
             CAST($valid_max AS DOUBLE[])[r._key + 1] AS valid_max,
             {installed} AS installed, {time} AS time, {value} AS v, {malformed} AS malformed
      FROM _raw r)
"""
# each row's installation time, when some sensor of the batch has one
INSTALLED = "CAST($installed AS TIMESTAMPTZ[])[r._key + 1]"
# valid rows strictly ordered by (sensor, time) or by (time, sensor), checked row against previous
# row in _chk's (input) order; ``in_order`` guards that assumption (false: group to be sure)
ORDERED = """
SELECT coalesce(bool_and(_rn > prn), true) AS in_order,
       coalesce(bool_and(k > pk OR (k = pk AND time > pt)), true) AS by_sensor,
       coalesce(bool_and(time > pt OR (time = pt AND k > pk)), true) AS by_time
FROM (SELECT _rn, k, time, lag(_rn) OVER () AS prn, lag(k) OVER () AS pk, lag(time) OVER () AS pt
      FROM _chk WHERE reason IS NULL)
WHERE prn IS NOT NULL
"""
# Repeats of a (sensor, time) among valid rows, taken in input order as if each came in a batch of
# its own: the same value as the one before it is a resend (reason '' = dropped and counted), another
# value a correction. ``_rep`` numbers the corrections' rounds (1, 2, ...: the store applies round r
# after round r - 1, so the last value wins and the ones it replaces go to the history); rows not in
# ``_rep`` are round 0.
REPEATS = [
    """CREATE OR REPLACE TEMP TABLE _rep AS
       SELECT _rn, same,
              sum(CASE WHEN same THEN 0 ELSE 1 END) OVER (PARTITION BY k, time ORDER BY _rn
                                                           ROWS UNBOUNDED PRECEDING) - 1 AS round
       FROM (SELECT c._rn, c.k, c.time,
                    coalesce(c.value = lag(c.value) OVER (PARTITION BY c.k, c.time ORDER BY c._rn),
                             false) AS same
             FROM _chk c SEMI JOIN (SELECT k, time FROM _chk WHERE reason IS NULL
                                    GROUP BY k, time HAVING count(*) > 1) d
               ON c.k = d.k AND c.time = d.time
             WHERE c.reason IS NULL)""",
    "UPDATE _chk SET reason = '' FROM _rep WHERE _chk._rn = _rep._rn AND _rep.same",
    "DELETE FROM _rep WHERE same OR round = 0",
]
DETAIL = """CASE c.reason
    WHEN 'malformed row' THEN {error}
    WHEN 'unknown sensor' THEN 'sensor ''' || {sensor} || ''' is not registered'
    WHEN 'bad timestamp' THEN CASE WHEN c.time IS NULL THEN 'cannot parse time ''' || {time} || ''''
        ELSE 'time ''' || {time} || ''' is infinite or before 1900' END
    WHEN 'not a number' THEN 'value ''' || {value} || ''' is not a number'
    WHEN 'not finite' THEN 'value ''' || {value} || ''' is not finite'
    WHEN 'unit missing' THEN 'unit missing for a ' || coalesce(p.quantity, '?') || ' reading'
    WHEN 'unit not convertible' THEN 'unit ''' || {unit} || ''' does not convert to '
        || coalesce(p.quantity, '?')
    WHEN 'out of range' THEN 'value ' || {value} || ' ' || {unit} || ' outside ['
        || coalesce(CAST(p.valid_min AS VARCHAR), '?') || ', '
        || coalesce(CAST(p.valid_max AS VARCHAR), '?') || '] (SI)'
    WHEN 'future' THEN 'time ' || {time} || ' is more than 5 min in the future'
    WHEN 'before installed' THEN 'time ' || {time} || ' is before installation at '
        || coalesce(CAST(p.installed AS VARCHAR), '?')
END"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int32) of a column and its distinct values as text (null as '')."""
    if len(column) and column.null_count == 0:
        first = column[0]
        if pc.all(pc.equal(column, first)).as_py():  # one value (a file's unit, say): no hashing
            return np.zeros(len(column), dtype=np.int32), [str(first.as_py())]
        periodic = _periodic_codes(column)
        if periodic is not None:
            return periodic
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], encoded.type)
    values = ["" if v is None else str(v) for v in encoded.dictionary.to_pylist()]
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False), values


def _periodic_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]] | None:
    """Codes of a column (no NULLs) that repeats one run of distinct values, as a time-major file's
    sensors do (each time step lists the same sensors in the same order): told by comparing the
    column with itself shifted by one run, several times cheaper than hashing every value. None
    when it does not repeat so."""
    n = len(column)
    head = column.slice(0, min(n, PERIOD_MAX + 1))
    again = np.flatnonzero(pc.equal(head.slice(1), head[0]).to_numpy(zero_copy_only=False))
    if not len(again):
        return None
    width = int(again[0]) + 1
    run = head.slice(0, width)
    if len(pc.unique(run)) != width or n < 2 * width:
        return None
    if not pc.all(pc.equal(column.slice(width), column.slice(0, n - width))).as_py():
        return None
    codes = np.tile(np.arange(width, dtype=np.int32), -(-n // width))[:n]
    return codes, [str(v) for v in run.to_pylist()]


def _pairs(raw: pa.Table, table: pd.DataFrame) -> tuple[pa.Table, _Pairs]:
    """Each distinct (sensor, unit) as received, with the sensor's registry row and the factor to SI.

    Returns ``raw`` with the pair number ``_key`` of each row (0, 1, ... in the order of the pairs)
    and the pairs. The pairs of a batch are looked up in the registry once per registry version: a
    stream's batches name the same sensors and units each time.
    """
    s_codes, s_values = _codes(raw["sensor"])
    u_codes, u_values = _codes(raw["unit"])
    n_units = max(len(u_values), 1)
    if n_units == 1:  # every distinct sensor value occurs: the codes are the pair numbers
        key, present = s_codes, np.arange(len(s_values), dtype=np.int64)
    else:
        combined = s_codes.astype(np.int64) * n_units + u_codes
        if len(s_values) * n_units <= 4_000_000:
            seen = np.bincount(combined, minlength=len(s_values) * n_units)
            present = np.flatnonzero(seen)
            dense = np.zeros(len(seen), dtype=np.int32)
            dense[present] = np.arange(len(present), dtype=np.int32)
            key = dense[combined]
        else:
            present, inverse = np.unique(combined, return_inverse=True)
            key = inverse.astype(np.int32)
    raw = raw.append_column("_key", _chunked_like(raw, key))
    sensor_raw = np.asarray(s_values, dtype=object)[present // n_units]
    unit_raw = np.asarray(u_values, dtype=object)[present % n_units]
    cache_key = (id(table), tuple(sensor_raw), tuple(unit_raw))
    with _PAIRS_LOCK:
        hit = _PAIRS_CACHE.get(cache_key)
    if hit is not None and hit[0] is table:
        return raw, hit[1]
    pairs = _lookup_pairs(sensor_raw, unit_raw, table)
    with _PAIRS_LOCK:
        if len(_PAIRS_CACHE) >= _PAIRS_CACHED:
            _PAIRS_CACHE.pop(next(iter(_PAIRS_CACHE)))
        _PAIRS_CACHE[cache_key] = (table, pairs)  # holds the table: its id is not reused meanwhile
    return raw, pairs


@dataclass(frozen=True)
class _Pairs:
    """The distinct (sensor, unit) pairs of a batch: a frame (see :func:`_lookup_pairs`), the same as
    Arrow (for the ``_pairs`` temp table) and its attributes as query parameters (:func:`_pair_lists`)."""

    frame: pd.DataFrame
    arrow: pa.Table
    lists: dict[str, list[Any]]


_PAIRS_CACHED = 8  # registry versions × pair sets kept; a stream needs one or two
_PAIRS_CACHE: dict[tuple[int, tuple[Any, ...], tuple[Any, ...]], tuple[pd.DataFrame, _Pairs]] = {}
_PAIRS_LOCK = threading.Lock()


def _lookup_pairs(sensor_raw: np.ndarray, unit_raw: np.ndarray, table: pd.DataFrame) -> _Pairs:
    """Registry row and factor to SI of each (sensor, unit) pair as received (blanks stripped)."""
    ids = pd.Series(sensor_raw, dtype=object).str.strip()
    units = pd.Series(unit_raw, dtype=object).str.strip()
    info = table.reindex(ids.to_numpy())
    codes = table.index.get_indexer(ids.to_numpy())
    quantity = info["quantity"].to_numpy(object)
    factors: dict[tuple[str, str], float] = {}
    for key_pair in set(zip(units, quantity, strict=True)):
        unit, q = key_pair
        try:
            factors[key_pair] = parse_unit(unit, q).factor if unit and isinstance(q, str) else np.nan
        except UnitError:
            factors[key_pair] = np.nan
    pairs = pd.DataFrame(
        {
            "pair": np.arange(len(sensor_raw), dtype=np.int32),
            "sensor": ids.astype(object),
            "k": codes.astype(np.int32),
            "known": codes >= 0,
            "unit_missing": (units == "").to_numpy(bool),
            "quantity": quantity,
            "factor": np.array([factors[kp] for kp in zip(units, quantity, strict=True)], dtype=float),
            "valid_min": info["valid_min"].to_numpy(float),
            "valid_max": info["valid_max"].to_numpy(float),
            "installed": pd.DatetimeIndex(pd.to_datetime(info["installed"], utc=True)),
        }
    )
    arrow = pa.Table.from_pandas(pairs, preserve_index=False)
    return _Pairs(pairs, arrow, _pair_lists(pairs))


def _pair_lists(pairs: pd.DataFrame) -> dict[str, list[Any]]:
    """The pairs' attributes as lists (query parameters; NULL for a missing number or time). ``fault``
    is 1 for an unknown sensor, 2 for a missing unit, else 0; ``installed`` is left out when no
    sensor has an installation time."""

    def numbers(col: str) -> list[float | None]:
        return [None if np.isnan(x) else float(x) for x in pairs[col].to_numpy(float)]

    known = pairs["known"].to_numpy(bool)
    unit_missing = pairs["unit_missing"].to_numpy(bool)
    installed = pd.DatetimeIndex(pairs["installed"])
    lists: dict[str, list[Any]] = {
        "k": pairs["k"].astype(int).tolist(),
        "fault": np.where(~known, 1, np.where(unit_missing, 2, 0)).tolist(),
        "factor": numbers("factor"),
        "valid_min": numbers("valid_min"),
        "valid_max": numbers("valid_max"),
    }
    if installed.notna().any():
        lists["installed"] = [None if pd.isna(t) else t.to_pydatetime() for t in installed]
    return lists


def valid_rows(round_: int | None = None) -> str:
    """The valid rows of a check (all columns of ``_chk``) as a subquery; with ``round_`` only those
    applied in that round of corrections within the batch (:data:`REPEATS`)."""
    if round_ is None:
        return "(SELECT * FROM _chk WHERE reason IS NULL)"
    return (
        "(SELECT c.* FROM _chk c LEFT JOIN _rep x ON x._rn = c._rn "
        f"WHERE c.reason IS NULL AND coalesce(x.round, 0) = {int(round_)})"
    )


@dataclass
class Checked:
    """Checked records inside a DuckDB connection: temp table ``_chk`` (pair, k, time TIMESTAMPTZ, value
    SI, reason: NULL for a valid reading, '' for a dropped exact repeat) and what was found.

    ``order`` tells how the valid rows of ``_chk`` (in input order) are sorted, strictly: "sensor"
    (by k, time), "time" (by time, k) or None (unknown). ``rounds`` is 1 + the most corrections one
    reading got within the batch; temp table ``_rep`` then holds ``_rn`` and ``round`` of each.
    ``span`` is the first and last time of the valid readings (naive UTC), from the same pass.
    """

    con: duckdb.DuckDBPyConnection
    valid: int
    duplicates: int
    reasons: dict[str, int]
    source: str
    received_at: pd.Timestamp
    payload_sql: str
    text_sql: dict[str, str]
    order: str | None = None
    rounds: int = 1
    span: tuple[Any, Any] = (None, None)  # first and last time of the valid rows (naive UTC)

    # sensor ids come from the small _pairs table: _chk holds integers only, cheaper to materialise
    READINGS = f"SELECT p.sensor, c.time, c.value FROM {valid_rows()} c JOIN _pairs p ON p.pair = c.pair"

    @property
    def rejected(self) -> int:
        return sum(self.reasons.values())

    def quarantine(self) -> pd.DataFrame:
        """Quarantine rows (received_at, source, sensor, payload, reason, detail) in input order."""
        if not self.rejected:
            return _empty_quarantine()
        detail = DETAIL.format(**self.text_sql)
        frame = self.con.execute(
            f"""SELECT $received_at AS received_at, $source AS source, p.sensor,
                       {self.payload_sql} AS payload, c.reason, {detail} AS detail
                FROM (SELECT * FROM _chk WHERE reason <> '') c
                JOIN _raw r ON r._rn = c._rn JOIN _pairs p ON p.pair = c.pair ORDER BY c._rn""",
            {"received_at": self.received_at.to_pydatetime(), "source": self.source},
        ).df()
        frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True).astype(
            "datetime64[us, UTC]"
        )
        return frame[list(QUARANTINE_COLUMNS)]

    def drop(self) -> None:
        """Remove the temporary tables and views of this check from the connection."""
        checked_drop(self.con)


def round_sizes(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(round, valid readings in it) of a check with corrections within the batch, in round order."""
    got = con.execute(
        "SELECT coalesce(x.round, 0) AS r, count(*) FROM _chk c LEFT JOIN _rep x ON x._rn = c._rn "
        "WHERE c.reason IS NULL GROUP BY r ORDER BY r"
    ).fetchall()
    return [(int(r), int(n)) for r, n in got]


def checked_drop(con: duckdb.DuckDBPyConnection) -> None:
    """Remove what :func:`check` left in ``con`` (temporary tables, the registered raw table)."""
    con.execute("DROP TABLE IF EXISTS _chk; DROP TABLE IF EXISTS _pairs; DROP TABLE IF EXISTS _rep")
    con.unregister("_raw")


def check(
    con: duckdb.DuckDBPyConnection,
    raw: pa.Table,
    table: pd.DataFrame,
    *,
    source: str,
    now: pd.Timestamp | None = None,
    received_at: pd.Timestamp | None = None,
) -> Checked:
    """Run the rules over ``raw`` (see :func:`raw_table`) in ``con`` (session time zone UTC).

    Checks, first failing one wins: malformed row (a reader's ``error`` column is set: a line
    with the wrong number of fields), unknown sensor, bad timestamp, not a number, not finite, unit
    missing, unit not convertible, out of range (SI), future (more than 5 min after ``now``), before
    installed; then repeats of a (sensor, time) in input order: the same value as before is counted
    as a duplicate, another value is a correction (see :data:`REPEATS`).
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    received_at = now if received_at is None else pd.Timestamp(received_at)
    raw, pairs = _pairs(raw, table)
    time_sql = _time_sql(raw.schema.field("time").type)
    parsed = _times_by_run(con, raw["time"], time_sql)
    if parsed is not None:
        raw, time_sql = raw.append_column("_t", parsed), "r._t"
    con.register("_raw", raw)
    con.register("_pairs_in", pairs.arrow)
    con.execute("CREATE OR REPLACE TEMP TABLE _pairs AS SELECT * FROM _pairs_in")
    con.unregister("_pairs_in")
    schema = raw.schema
    lists = pairs.lists
    sql = CHECK.format(
        time=time_sql,
        value=_value_sql(schema.field("value").type),
        installed=INSTALLED if "installed" in lists else "CAST(NULL AS TIMESTAMPTZ)",
        malformed="r.error IS NOT NULL" if "error" in raw.column_names else "false",
    )
    future = (now + FUTURE_TOLERANCE).to_pydatetime()
    con.execute(sql, {"future": future, "earliest": EARLIEST.to_pydatetime(), **lists})
    order, rounds = _order(con), 1
    if order is None:
        for statement in REPEATS:
            con.execute(statement)
        rounds = 1 + int(con.execute("SELECT coalesce(max(round), 0) FROM _rep").fetchall()[0][0])
    counts = con.execute(
        "SELECT coalesce(reason, '\x00'), count(*), min(time)::TIMESTAMP, max(time)::TIMESTAMP "
        "FROM _chk GROUP BY ALL"
    ).fetchall()
    by_reason = {str(r): int(n) for r, n, _, _ in counts}
    span = next(((t0, t1) for r, _, t0, t1 in counts if r == "\x00"), (None, None))
    # as received; ``payload`` (the raw text, when a reader kept it) and ``error`` are not fields
    fields = [n for n in raw.column_names if n not in ("_rn", "_key", "_t", "payload", "error")]
    text = {n: f"coalesce(CAST(r.{_quote(n)} AS VARCHAR), '')" for n in (*RAW_COLUMNS, "error")}
    if "error" not in raw.column_names:
        text["error"] = "''"
    payload = (
        "to_json(struct_pack("
        + ", ".join(f"{_quote(n)} := CAST(r.{_quote(n)} AS VARCHAR)" for n in fields)
        + "))"
    )
    if "payload" in raw.column_names:
        payload = f"coalesce(CAST(r.payload AS VARCHAR), CAST({payload} AS VARCHAR))"
    return Checked(
        con=con,
        valid=by_reason.pop("\x00", 0),
        duplicates=by_reason.pop("", 0),
        reasons=by_reason,
        source=source,
        received_at=received_at,
        payload_sql=payload,
        text_sql=text,
        order=order,
        rounds=rounds,
        span=span,
    )


def _times_by_run(
    con: duckdb.DuckDBPyConnection, column: pa.ChunkedArray, time_sql: str
) -> pa.ChunkedArray | None:
    """Text times parsed once per run of equal values, by the same SQL as the rules (``time_sql`` over
    ``r.time``), as a UTC timestamp column chunked like ``column`` (NULL where unparsable). A
    time-major file repeats each time once per sensor: 12.6 M times are 105 k runs. None when the
    times are not text or runs are short (the first chunk tells)."""
    if not pa.types.is_string(column.type) or not len(column):
        return None
    starts, texts, judged = [], [], False
    for chunk in column.chunks:
        n = len(chunk)
        if n == 0:
            starts.append(np.zeros(0, np.int64))
            continue
        change = pc.fill_null(pc.not_equal(chunk.slice(1), chunk.slice(0, n - 1)), True)
        first = np.concatenate([[0], np.flatnonzero(change.to_numpy(zero_copy_only=False)) + 1])
        if not judged and len(first) * RUN_MIN > n:
            return None
        judged = True
        starts.append(first)
        texts.append(chunk.take(pa.array(first)))
    con.register("_runs", pa.table({"time": pa.chunked_array(texts, pa.string())}))
    try:
        us = con.sql(f"SELECT epoch_us({time_sql}) AS t FROM _runs r").to_arrow_table()["t"]
    finally:
        con.unregister("_runs")
    us = us.combine_chunks() if isinstance(us, pa.ChunkedArray) else us
    values = us.fill_null(0).to_numpy(zero_copy_only=False)
    valid = us.is_valid().to_numpy(zero_copy_only=False)
    out, at = [], 0
    for chunk, first in zip(column.chunks, starts, strict=True):
        lengths = np.diff(np.append(first, len(chunk)))
        k = slice(at, at + len(first))
        out.append(
            pa.array(
                np.repeat(values[k], lengths),
                mask=np.repeat(~valid[k], lengths),
                type=pa.timestamp("us", tz="UTC"),
            )
        )
        at += len(first)
    return pa.chunked_array(out, pa.timestamp("us", tz="UTC"))


def _order(con: duckdb.DuckDBPyConnection) -> str | None:
    """The order of the valid keys, in input order: "sensor" when strictly ordered by (sensor, time),
    "time" when strictly by (time, sensor): no key repeats then. None when they may repeat.

    Historian exports and sensor batches usually are ordered, and this check (one pass comparing each
    row with the previous one) is much cheaper than grouping.
    """
    in_order, by_sensor, by_time = con.execute(ORDERED).fetchone() or (False, False, False)
    if not in_order:
        return None
    return "sensor" if by_sensor else "time" if by_time else None


def _empty_quarantine() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in QUARANTINE_COLUMNS})
    frame["received_at"] = frame["received_at"].astype("datetime64[us, UTC]")
    return frame


_local = threading.local()


def memory_connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection for :func:`check` (UTC session), opened once."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:", config={"threads": 2})
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con


def validate(
    raw: pd.DataFrame | pa.Table,
    registry: SensorRegistry | pd.DataFrame,
    *,
    source: str,
    now: pd.Timestamp | None = None,
    received_at: pd.Timestamp | None = None,
) -> Validated:
    """Check raw records against the registry; return SI readings and quarantine rows with reasons.

    ``raw`` has columns sensor, time, value, unit (as received) and optionally payload (the raw text to
    keep for rejected rows; default: the record's fields as JSON). The rules are those of :func:`check`.
    """
    table = registry if isinstance(registry, pd.DataFrame) else sensor_table(registry)
    arrow = raw_table(raw)
    con = memory_connection()
    try:
        checked = check(con, arrow, table, source=source, now=now, received_at=received_at)
        readings = con.execute(f"{Checked.READINGS} ORDER BY c._rn").df()
        quarantine = checked.quarantine()
    finally:
        checked_drop(con)
    readings = readings[list(READING_COLUMNS)]
    readings["sensor"] = readings["sensor"].astype(object)
    readings["time"] = pd.to_datetime(readings["time"], utc=True).astype("datetime64[us, UTC]")
    return Validated(readings, quarantine, checked.duplicates)
