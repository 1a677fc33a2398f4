"""One service as a child process: start, readiness, stop, restart with backoff."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from vareon_local.forked import ForkedProcess, fork_service, has_main
from vareon_local.layout import Service

STOP_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 60.0
"""A process that ran this long before dying restarts without delay (the backoff resets)."""


def die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG


def serve_argv(service: Service) -> list[str]:
    """A service whose package has a ``__main__`` runs its own server (the gateway: uvloop,
    httptools, GATEWAY_WORKERS); the others one uvicorn process each."""
    if has_main(service.module):
        return [sys.executable, "-m", service.module]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{service.module}.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(service.port),
        "--no-access-log",
    ]


class ServiceProcess:
    def __init__(
        self, service: Service, env: dict[str, str], log_path: Path, fork: bool = False
    ) -> None:
        self.service = service
        self.fork = fork
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.backoff_s = 1.0
        self.restart_at: float | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Spawn the server. Must run on the main thread: PR_SET_PDEATHSIG fires when the
        spawning *thread* exits."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        if self.fork:
            self.process = fork_service(
                self.service.module,
                self.service.port,
                self.env,
                self.service.directory,
                self._log.fileno(),
            )
            self.started_at = time.monotonic()
            self.restart_at = None
            return
        argv = serve_argv(self.service)
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            cwd=self.service.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            process_group=0,  # Ctrl-C reaches the supervisor only; it stops children in order
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def is_ready(self) -> bool:
        """Ready, and every consumer holds its partitions: `vareon up` says "ready" only when
        an event published from then on is consumed, not after a first group join later."""
        from vareon_chassis.service import consumers_assigned  # FastAPI: import late

        try:
            response = httpx.get(f"{self.service.url}/health/ready", timeout=1.0)
            return response.status_code == 200 and consumers_assigned(response.json())
        except (httpx.HTTPError, ValueError):
            return False

    def schedule_restart(self) -> float:
        """Called once the process died: when to start it again (exponential backoff)."""
        if time.monotonic() - self.started_at > HEALTHY_AFTER_S:
            self.backoff_s = 1.0
        delay = self.backoff_s
        self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
        self.restart_at = time.monotonic() + delay
        self._close_log()
        return delay

    def restart_due(self) -> bool:
        return self.restart_at is not None and time.monotonic() >= self.restart_at

    def terminate(self) -> None:
        self.restart_at = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> bool:
        """Wait until ``deadline`` (monotonic); SIGKILL after it. True if it stopped in time."""
        process = self.process
        if process is None:
            return True
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
            in_time = True
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            in_time = False
        self._close_log()
        return in_time

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
