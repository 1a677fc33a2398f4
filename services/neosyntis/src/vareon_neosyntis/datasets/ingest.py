"""Reading an upload as it streams: row count and column schema, one pass, bounded memory.

Each format has an inspector fed chunk by chunk (from a worker thread). CSV and JSON Lines
are parsed as the bytes arrive, by a parser thread reading from a small bounded pipe;
Parquet keeps only the file's tail, where its footer (schema and row count) lives; the
footer's sizes refuse a decompression bomb (too large once decompressed, or compressed
beyond any plausible ratio) before anything reads a column.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "jsonl", "parquet")
# Column types, widest last: a column whose values need two types becomes "string".
NUMERIC = {"integer", "float"}
PARQUET_MAGIC = b"PAR1"
PARQUET_TAIL_BYTES = 16 * 1024 * 1024


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


def inspector_for(fmt: str, parquet: ParquetLimits | None = None) -> Inspector:
    if fmt == "csv":
        return CsvInspector()
    if fmt == "jsonl":
        return JsonLinesInspector()
    if fmt == "parquet":
        return ParquetInspector(parquet or ParquetLimits())
    raise ValueError(f"unknown format {fmt!r}")


def widen(current: str | None, seen: str | None) -> str | None:
    if seen is None or current == seen:
        return current
    if current is None:
        return seen
    if {current, seen} <= NUMERIC:
        return "float"
    return "string"


class _Pipe(io.RawIOBase):
    """Bytes handed from the upload to a parser thread; at most ``depth`` chunks in flight."""

    def __init__(self, depth: int = 4) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._buffer = memoryview(b"")
        self._eof = False
        self.closed_by_writer = threading.Event()
        self.reader_gone = threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._eof:
            item = self._queue.get()
            if item is None:
                self._eof = True
            else:
                self._buffer = memoryview(item)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def put(self, item: bytes | None) -> None:
        while not self.reader_gone.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


class _ThreadedInspector:
    """Runs ``self.parse(stream)`` in a thread; feed/finish surface its error."""

    def __init__(self) -> None:
        self._pipe = _Pipe()
        self._result: Inspection | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self.parse(io.BufferedReader(self._pipe, 1024 * 1024))
        except BaseException as exc:
            self._error = exc
        finally:
            self._pipe.reader_gone.set()

    def parse(self, stream: io.BufferedReader) -> Inspection:
        raise NotImplementedError

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            if isinstance(self._error, InvalidContent):
                raise self._error
            raise InvalidContent(str(self._error)) from self._error

    def feed(self, chunk: bytes) -> None:
        self._raise_if_failed()
        self._pipe.put(chunk)
        self._raise_if_failed()

    def finish(self) -> Inspection:
        self._pipe.put(None)
        self._thread.join()
        self._raise_if_failed()
        assert self._result is not None
        return self._result

    def abort(self) -> None:
        self._pipe.put(None)
        self._thread.join(timeout=10)


class CsvInspector(_ThreadedInspector):
    """RFC 4180 CSV with a header row; values typed by trying casts batch by batch."""

    def __init__(self) -> None:
        self._quotes = 0
        super().__init__()

    def feed(self, chunk: bytes) -> None:
        self._quotes += chunk.count(b'"')
        super().feed(chunk)

    def finish(self) -> Inspection:
        result = super().finish()
        if self._quotes % 2:
            raise InvalidContent(
                "the file ends inside a quoted value (truncated?)", line=result.row_count + 1
            )
        return result

    def parse(self, stream: io.BufferedReader) -> Inspection:
        header = stream.peek(1024 * 1024)
        first = header.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        names = next(csv.reader([first]), [])
        if not names or not any(n.strip() for n in names):
            raise InvalidContent("the first line must be a header naming the columns", line=1)
        if len(set(names)) != len(names):
            raise InvalidContent("the header names a column twice", line=1)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 20),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
                ),
            )
        except pa.ArrowInvalid as exc:
            raise _csv_error(exc, 0) from None
        types: dict[str, str | None] = dict.fromkeys(names)
        nulls = dict.fromkeys(names, False)
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise _csv_error(exc, rows) from None
            rows += batch.num_rows
            for name, array in zip(batch.schema.names, batch.columns, strict=True):
                nulls[name] = nulls[name] or array.null_count > 0
                if types[name] != "string":
                    types[name] = widen(types[name], _value_type(array.drop_null()))
        columns = [{"name": n, "type": types[n] or "string", "nullable": nulls[n]} for n in names]
        return Inspection(rows, columns)


def _csv_error(exc: BaseException, rows_before: int) -> InvalidContent:
    message = str(exc)
    line = None
    if "Row #" in message:
        try:
            line = int(message.split("Row #", 1)[1].split(":", 1)[0])
        except ValueError:
            line = None
    return InvalidContent(f"not valid CSV: {message}", line=line or rows_before + 2)


def _value_type(values: pa.Array) -> str | None:
    if len(values) == 0:
        return None
    for arrow_type, name in (
        (pa.int64(), "integer"),
        (pa.float64(), "float"),
        (pa.timestamp("us"), "timestamp"),
    ):
        try:
            pc.cast(values, arrow_type)
            return name
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    lowered = pc.utf8_lower(values)
    if pc.all(pc.is_in(lowered, pa.array(["true", "false"]))).as_py():
        return "boolean"
    return "string"


def _json_type(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "json"


class JsonLinesInspector(_ThreadedInspector):
    """One JSON object per line; blank lines are allowed; errors name the line."""

    def parse(self, stream: io.BufferedReader) -> Inspection:
        types: dict[str, str | None] = {}
        present: dict[str, int] = {}
        nulls: dict[str, bool] = {}
        rows = 0
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidContent(
                    f"line {number} is not valid JSON: {exc.msg} (column {exc.colno})", line=number
                ) from None
            except UnicodeDecodeError:
                raise InvalidContent(f"line {number} is not UTF-8", line=number) from None
            if not isinstance(record, dict):
                raise InvalidContent(f"line {number} is not a JSON object", line=number)
            rows += 1
            for key, value in record.items():
                seen = _json_type(value)
                if key not in types:
                    types[key] = seen
                elif seen == "json" or types[key] == "json":
                    types[key] = "json" if seen == types[key] or seen is None else "string"
                else:
                    types[key] = widen(types[key], seen)
                present[key] = present.get(key, 0) + 1
                nulls[key] = nulls.get(key, False) or value is None
        columns = [
            {"name": k, "type": t or "string", "nullable": nulls[k] or present[k] < rows}
            for k, t in types.items()
        ]
        return Inspection(rows, columns)


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
