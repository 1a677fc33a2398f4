"""Dataset readers in child processes under an address-space limit.

Previews and open-lab operations decode stored files; a decompression bomb that gets past
the ingest checks and the byte budget makes a reader process fail with MemoryError (or die),
never the API process. The functions run in the child take a spooled file's path. The
processes start on first use (each imports pandas and scikit-learn once) and are reused.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import IO, Any

from vareon_neosyntis.lab import operations
from vareon_neosyntis.storage import Storage


class ReaderFailed(ValueError):
    """The reader ran out of memory or died: refused like bad data, not a server error."""


def _limit(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _arrow_error(exc: Exception) -> bool:
    """An Arrow error raised in a reader: unpickling it imported pyarrow here, so the API
    process need not import pyarrow (~40 MB) before anything is read."""
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(exc, pa.ArrowException)


class Readers:
    def __init__(self, memory_bytes: int, processes: int = 1) -> None:
        self.memory_bytes = memory_bytes
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit,
                initargs=(self.memory_bytes,),
            )
        return self._pool

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            self._discard(pool)
            raise ReaderFailed("the dataset reader died (a decompression bomb?)") from None
        except (MemoryError, OverflowError):  # a process that hit its limit is not reused
            self._discard(pool)
            raise ReaderFailed(
                f"reading the dataset needed more than {self.memory_bytes} bytes of memory"
            ) from None
        except Exception as exc:
            if not _arrow_error(exc):
                raise
            raise ReaderFailed(f"the dataset could not be read: {exc}") from None

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def spool(storage: Storage, key: str) -> IO[bytes]:
    """The stored object in a named local temp file the child can open (blocking; removed
    when closed)."""
    f = tempfile.NamedTemporaryFile(prefix="neosyntis-read-")
    try:
        for chunk in storage.read(key):
            f.write(chunk)
        f.flush()
    except BaseException:
        f.close()
        raise
    return f


def preview_file(
    path: str, fmt: str, columns: list[dict[str, Any]], limit: int, max_bytes: int
) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        frame = operations.load_frame(f, fmt, columns, limit, max_bytes)
    return operations.preview(frame, limit)


def operate_file(
    path: str,
    fmt: str,
    columns: list[dict[str, Any]],
    max_rows: int,
    max_bytes: int,
    operation: str,
    parameters: dict[str, Any],
) -> dict[str, Any]:
    with open(path, "rb") as f:
        frame = operations.load_frame(f, fmt, columns, max_rows, max_bytes)
    if operation == "profile":
        result = operations.profile(frame, columns)
    else:
        result = operations.baseline(frame, columns, parameters["target"], parameters["folds"])
    result["rows_used"] = len(frame)
    return result
