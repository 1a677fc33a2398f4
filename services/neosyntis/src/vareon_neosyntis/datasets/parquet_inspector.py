"""Parquet: only the file's tail is kept, where its footer (schema and row count) lives; the
footer's sizes refuse a decompression bomb (too large once decompressed, or compressed beyond
any plausible ratio) before anything reads a column."""

from __future__ import annotations

import io
from collections import deque
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vareon_neosyntis.datasets.inspection import (
    Inspection,
    InvalidContent,
    ParquetLimits,
    UncompressedTooLarge,
)

PARQUET_MAGIC = b"PAR1"

PARQUET_TAIL_BYTES = 16 * 1024 * 1024


class ParquetInspector:
    """Checks the magic bytes at both ends and reads the footer from the kept tail."""

    def __init__(self, limits: ParquetLimits) -> None:
        self._limits = limits
        self._head = b""
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < 4:
            self._head += chunk[: 4 - len(self._head)]
            if len(self._head) == 4 and self._head != PARQUET_MAGIC:
                raise InvalidContent("not a Parquet file (bad magic bytes at the start)")
        self._size += len(chunk)
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(self._tail[0]) >= PARQUET_TAIL_BYTES:
            self._tail_size -= len(self._tail.popleft())

    def finish(self) -> Inspection:
        tail = b"".join(self._tail)
        if self._head != PARQUET_MAGIC or not tail.endswith(PARQUET_MAGIC) or self._size < 12:
            raise InvalidContent("not a complete Parquet file (truncated?)")
        try:
            source = _TailFile(tail, self._size)
            metadata = pq.read_metadata(source)
            schema = metadata.schema.to_arrow_schema()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidContent(f"unreadable Parquet footer: {exc}") from None
        self._check_sizes(metadata)
        columns = [
            {"name": f.name, "type": _arrow_type(f.type), "nullable": f.nullable} for f in schema
        ]
        return Inspection(metadata.num_rows, columns)

    def _check_sizes(self, metadata: pq.FileMetaData) -> None:
        chunks = [
            metadata.row_group(g).column(c)
            for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)
        ]
        uncompressed = sum(max(c.total_uncompressed_size, 0) for c in chunks)
        compressed = sum(max(c.total_compressed_size, 0) for c in chunks)
        limit = self._limits.max_uncompressed_bytes
        if uncompressed > limit:
            raise UncompressedTooLarge(
                f"the file decompresses to {uncompressed} bytes, over the uncompressed limit "
                f"of {limit} bytes"
            )
        ratio = uncompressed / max(compressed, 1)
        if ratio > self._limits.max_compression_ratio:
            raise InvalidContent(
                f"compression ratio {ratio:.0f}:1 is over the limit of "
                f"{self._limits.max_compression_ratio:g}:1 (a decompression bomb?)"
            )

    def abort(self) -> None:
        self._tail.clear()


def _arrow_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "timestamp"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return "json"


class _TailFile(io.RawIOBase):
    """A seekable view of a file of which only the last bytes are known."""

    def __init__(self, tail: bytes, size: int) -> None:
        self._tail = tail
        self._size = size
        self._start = size - len(tail)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = base + offset
        return self._pos

    def readinto(self, target: Any) -> int:
        if self._pos < self._start:
            raise ValueError("the Parquet footer is larger than the part kept")
        data = self._tail[self._pos - self._start : self._pos - self._start + len(target)]
        target[: len(data)] = data
        self._pos += len(data)
        return len(data)
