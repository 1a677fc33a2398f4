"""CSV and JSON Lines, parsed as the bytes arrive by a parser thread reading from a small
bounded pipe."""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow loads at the first CSV upload, not with the API
    import pyarrow as pa

from vareon_neosyntis.datasets.inspection import Inspection, InvalidContent, widen


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
        import pyarrow as pa
        import pyarrow.csv as pacsv

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
    import pyarrow as pa
    import pyarrow.compute as pc

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
