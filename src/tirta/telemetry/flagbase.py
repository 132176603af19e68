"""The shape of quality flags and the small helpers every detector shares (see :mod:`tirta.telemetry.quality`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "FLAG_COLUMNS",
    "FLAG_KINDS",
    "MAD",
    "empty_flags",
    "flag_row",
    "flags_frame",
    "median_step",
    "runs",
]

FLAG_COLUMNS = ("sensor", "start", "end", "kind", "detail")
FLAG_KINDS = ("stuck", "spike", "drift", "gap")
MAD = 1.4826  # MAD × this estimates the standard deviation of normal noise


def empty_flags() -> pd.DataFrame:
    """A flags frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "sensor": pd.Series([], dtype=object),
            "start": pd.Series([], dtype="datetime64[us, UTC]"),
            "end": pd.Series([], dtype="datetime64[us, UTC]"),
            "kind": pd.Series([], dtype=object),
            "detail": pd.Series([], dtype=object),
        }
    )


def flags_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    if not rows:
        return empty_flags()
    out = pd.DataFrame(rows, columns=list(FLAG_COLUMNS))
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions of each run of True in a boolean array."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def median_step(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The usual time step of an index (median spacing), None with fewer than two times."""
    if len(index) < 2:
        return None
    return pd.Timedelta(pd.Series(index).diff().median())


def flag_row(sensor: object, start: object, end: object, kind: str, detail: str) -> dict[str, object]:
    """One row of a flags frame."""
    return {"sensor": sensor, "start": start, "end": end, "kind": kind, "detail": detail}
