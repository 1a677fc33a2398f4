"""Start services by forking the supervisor, which has already imported FastAPI, SQLAlchemy,
aiokafka and FastStream: each service then pays only for its own modules (measured: ~5.5 s of
CPU for the shared imports against ~0.5 s per service on this 2-core machine)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

PRELOAD = (
    "fastapi",
    "sqlalchemy.ext.asyncio",
    "aiokafka",
    "faststream.kafka",
    "httpx",
    "structlog",
    "uvicorn",
    "uvicorn.main",
    "vareon_chassis.service",
)


def preload() -> None:
    import gc
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    # The preloaded objects are shared with every forked service until written: kept out of
    # the collector's passes, a full collection in a child does not copy their pages.
    gc.freeze()


class ForkedProcess:
    """The part of ``subprocess.Popen`` the supervisor uses, for a forked child."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def has_main(module: str) -> bool:
    """The package serves itself (``python -m``), as the gateway does."""
    import importlib.util

    return importlib.util.find_spec(f"{module}.__main__") is not None


def fork_service(
    module: str, port: int, env: dict[str, str], cwd: Path, log_fd: int
) -> ForkedProcess:
    """Fork from the main thread (PR_SET_PDEATHSIG follows the forking thread)."""
    from vareon_local.processes import die_with_parent

    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid)
    code = 1
    try:  # the child must never unwind into the supervisor's frames nor run its atexit hooks
        os.setpgid(0, 0)
        die_with_parent()
        if os.getppid() != parent:
            os._exit(1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        _fresh_logging()
        if has_main(module):
            import runpy

            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            import uvicorn

            uvicorn.run(
                f"{module}.app:create_app",
                factory=True,
                host="127.0.0.1",
                port=port,
                access_log=False,
            )
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fresh_logging() -> None:
    """Undo what the supervisor's in-process Alembic runs did (fileConfig disables loggers)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.disabled = False
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
