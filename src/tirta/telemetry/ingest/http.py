"""HTTP ingestion: a body of readings (JSON object or array, SenML, or a long CSV) into the store.

The API checks who may send and how much; this module reads the body and hands the records to
:func:`tirta.telemetry.ingest.ingest_records`, like every other path.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from tirta.errors import InputError
from tirta.telemetry.ingest.longcsv import long_csv
from tirta.telemetry.ingest.mqtt import parse_payload
from tirta.telemetry.ingest.records import ingest_records
from tirta.telemetry.schema import QUARANTINE_COLUMNS, IngestResult
from tirta.telemetry.store.base import Store

__all__ = ["BODY_KINDS", "body_kind", "csv_records", "ingest_body"]

# media types a body may have, by the reader that takes it
BODY_KINDS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "application/senml+json": "json",
    "": "json",
}


def body_kind(content_type: str) -> str | None:
    """``csv`` or ``json`` for a Content-Type header (parameters ignored); None when unsupported."""
    return BODY_KINDS.get(content_type.split(";", 1)[0].strip().lower())


def csv_records(body: bytes) -> pa.Table:
    """Raw records of a long CSV body (header sensor,time,value[,unit]) as a file's are read: each
    keeps its ``line``; a line with the wrong number of fields is quarantined, not the body refused."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the CSV body is not UTF-8 text", field="body") from None
    try:
        return long_csv(body, unit_required=False)
    except InputError as exc:
        raise InputError(exc.message, line=exc.line, field=exc.field or "body") from None


def ingest_body(store: Store, body: bytes, kind: str, *, source: str) -> IngestResult:
    """Validate and store a body of ``kind`` (see :func:`body_kind`) sent by ``source``.

    A JSON body that cannot be read at all is quarantined as it came and answered with an InputError.
    """
    if kind == "csv":
        return ingest_records(store, csv_records(body), source=source)
    if kind != "json":
        raise InputError(f"unknown body kind '{kind}'; expected csv or json", field="body")
    parsed = parse_payload(source, body, max_bytes=len(body) + 1)
    if parsed.rejected:
        frame = pd.DataFrame(parsed.rejected, columns=list(QUARANTINE_COLUMNS)).assign(source=source)
        store.write(
            pd.DataFrame({"sensor": [], "time": [], "value": []}), source=source, quarantine=frame
        )
        detail = parsed.rejected[0]["detail"]
        raise InputError(f"malformed payload (kept in quarantine): {detail}", field="body")
    return ingest_records(store, parsed.records, source=source)
