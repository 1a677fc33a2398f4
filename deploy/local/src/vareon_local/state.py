"""The state directory: one supervisor at a time (a lock), and a file saying what runs where."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "vareon.lock"
STATE_FILE = "state.json"


class AlreadyRunning(RuntimeError):
    pass


class StateDir:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.logs = self.path / "logs"
        self.pgdata = self.path / "pgdata"
        self.keys = self.path / "keys"
        self.state_file = self.path / STATE_FILE
        self._lock: IO[str] | None = None

    def acquire(self, command: str) -> None:
        """Take the lock (released by the kernel even if this process is killed)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        lock = open(self.path / LOCK_FILE, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another vareon process"
            lock.close()
            raise AlreadyRunning(
                f"{holder} already uses {self.path}; stop it first (Ctrl-C in its terminal, or "
                f"kill its pid), or pass another --state-dir"
            ) from None
        lock.truncate(0)
        lock.write(f"`vareon {command}` (pid {os.getpid()})\n")
        lock.flush()
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.truncate(0)
            self._lock.close()  # closing the descriptor drops the flock
            self._lock = None

    def write(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def read(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def clear(self) -> None:
        self.state_file.unlink(missing_ok=True)
