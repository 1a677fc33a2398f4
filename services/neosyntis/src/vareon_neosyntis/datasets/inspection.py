"""What inspecting an upload yields (row count and typed columns) or refuses, and how column
types widen as more values are seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# Column types, widest last: a column whose values need two types becomes "string".
NUMERIC = {"integer", "float"}


class InvalidContent(Exception):
    def __init__(self, message: str, *, line: int | None = None, column: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class UncompressedTooLarge(InvalidContent):
    """The file is within the upload limit but would decompress past its own limit."""


@dataclass(frozen=True)
class ParquetLimits:
    max_uncompressed_bytes: int = 4 * 1024**3
    max_compression_ratio: float = 500.0


@dataclass(frozen=True)
class Inspection:
    row_count: int
    columns: list[dict[str, Any]]
    """``[{"name", "type", "nullable"}]``; type is integer/float/boolean/timestamp/string/json."""


class Inspector(Protocol):
    def feed(self, chunk: bytes) -> None: ...
    def finish(self) -> Inspection: ...
    def abort(self) -> None: ...


def widen(current: str | None, seen: str | None) -> str | None:
    if seen is None or current == seen:
        return current
    if current is None:
        return seen
    if {current, seen} <= NUMERIC:
        return "float"
    return "string"
