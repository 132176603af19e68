"""Raw records as an Arrow table the rules can scan: every column text but time and value, each row
numbered (``_rn``), chunked the way DuckDB scans it."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa

from tirta.errors import InputError
from tirta.telemetry.schema import RAW_COLUMNS

__all__ = ["_chunked_like", "raw_table"]


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
