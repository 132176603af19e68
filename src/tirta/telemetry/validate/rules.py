"""The rules: one DuckDB statement over the raw table rejects a row with its reason or keeps it in
SI, then repeats of a (sensor, time) are told apart as resends or corrections."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tirta.telemetry.schema import QUARANTINE_COLUMNS, RAW_COLUMNS
from tirta.telemetry.validate.pairs import _pairs
from tirta.telemetry.validate.parse import _time_sql, _times_by_run, _value_sql

__all__ = [
    "EARLIEST", "FUTURE_TOLERANCE", "PARSED_TIME", "PARSED_TIME_TYPE", "Checked", "check", "checked_drop",
    "memory_connection", "round_sizes", "valid_rows",
]  # fmt: skip

FUTURE_TOLERANCE = pd.Timedelta(minutes=5)
# a raw table may carry its times parsed already (the MQTT scanner does): this column, of this type
PARSED_TIME, PARSED_TIME_TYPE = "_t", pa.timestamp("us", tz="UTC")
EARLIEST = pd.Timestamp("1900-01-01", tz="UTC")  # earlier times are bad timestamps, as infinite ones


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
    as a duplicate, another value is a correction (see :data:`REPEATS`). A column ``_t`` of UTC
    timestamps without nulls (times the MQTT scanner parsed) stands for the parsed ``time`` texts.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    received_at = now if received_at is None else pd.Timestamp(received_at)
    raw, pairs = _pairs(raw, table)
    time_sql = _time_sql(raw.schema.field("time").type)
    given = raw.schema.field(PARSED_TIME).type if PARSED_TIME in raw.column_names else None
    if given == PARSED_TIME_TYPE and raw[PARSED_TIME].null_count == 0:  # every time parsed already
        parsed, time_sql = raw[PARSED_TIME], f"r.{PARSED_TIME}"
    else:
        if given is not None:
            raw = raw.drop_columns([PARSED_TIME])
        parsed = _times_by_run(con, raw["time"], time_sql)
        if parsed is not None:
            raw, time_sql = raw.append_column(PARSED_TIME, parsed), f"r.{PARSED_TIME}"
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
    order, rounds = _input_order(raw["_key"], parsed, lists["k"]) or _order(con), 1
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
    fields = [n for n in raw.column_names if n not in ("_rn", "_key", PARSED_TIME, "payload", "error")]
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


def _input_order(key: pa.ChunkedArray, times: pa.ChunkedArray | None, k: list[int]) -> str | None:
    """The order of *all* rows in input order, from NumPy: "sensor" when strictly ordered by (sensor,
    time), "time" when by (time, sensor); then the valid rows, a subsequence, are ordered so too.
    None when not, or when a row has no parsed time or an unknown sensor: :func:`_order` then looks
    at the valid rows alone. A stream's batches are ordered, and this spares :data:`ORDERED`'s window
    pass over the checked rows (about 15 ms per million readings)."""
    if times is None or times.null_count or not len(key):
        return None
    sensor = np.asarray(k, dtype=np.int64)[key.to_numpy()]
    if sensor.min() < 0:
        return None
    t = times.cast(pa.int64()).to_numpy()
    dk, dt = np.diff(sensor), np.diff(t)
    if bool(np.all((dk > 0) | ((dk == 0) & (dt > 0)))):
        return "sensor"
    if bool(np.all((dt > 0) | ((dt == 0) & (dk > 0)))):
        return "time"
    return None


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
