"""One exception tree for tirta: every user-facing error names what is at fault and where."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "InputError",
    "ModelError",
    "SimulationError",
    "StoreError",
    "TirtaError",
    "UnitError",
]


class TirtaError(Exception):
    """Base of all tirta errors; carries the file, line and field at fault when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}{what}{self.message}"


class InputError(TirtaError):
    """A file, payload or argument a user gave is malformed or inconsistent."""


class UnitError(InputError):
    """A unit is missing, unknown or not convertible to the quantity expected."""


class ModelError(TirtaError):
    """The hydraulic model cannot be loaded or is unusable for the operation asked."""


class SimulationError(TirtaError):
    """A hydraulic simulation failed or stopped before its full duration."""


class StoreError(TirtaError):
    """The telemetry store cannot be reached or refused an operation."""
