"""Ingestion: every path (files, MQTT, HTTP) hands raw records to :func:`ingest_records`.

It validates them, commits readings and quarantine rows together and returns the counts.
"""

from __future__ import annotations

from tirta.telemetry.ingest.files import FileRecords, ingest_file, read_file
from tirta.telemetry.ingest.records import as_frame, ingest_records

__all__ = ["FileRecords", "as_frame", "ingest_file", "ingest_records", "read_file"]
