"""Services as real processes (uvicorn subprocesses) on the session's PostgreSQL and broker,
so that a test can SIGKILL one and start it again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from vareon_chassis.embedded import free_port
from vareon_chassis.testing.plugin import TEST_KAFKA_TIMEOUTS, Infrastructure

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_SERVICE = ROOT / "libs/chassis/tests/fixture_service"


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphan if pytest dies


class ServiceProcess:
    """``python -m uvicorn vareon_<name>.app:create_app --factory`` with ``<NAME>_*`` env."""

    def __init__(self, name: str, env: dict[str, Any], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix = f"{name.upper()}_"
        self.env = {**os.environ, **{prefix + k.upper(): str(v) for k, v in env.items()}}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        argv = [sys.executable, "-m", "uvicorn", f"vareon_{self.name}.app:create_app"]
        argv += ["--factory", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    async def start(self, timeout_s: float = 30.0) -> None:
        self.spawn()
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with httpx.AsyncClient(base_url=self.url) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health/ready")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{self.name} not ready: {self.log.read_text()[-3000:]}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def exited(self, timeout_s: float = 20.0) -> int:
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (code := self.process.poll()) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.name} still running: {self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
async def service_process(
    infrastructure: Infrastructure, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[ServiceProcess]]]:
    """``service_process("wallet", database_url=..., ...)``: a started process, stopped after."""
    started: list[ServiceProcess] = []
    groups = f"faults-{uuid.uuid4().hex[:8]}-"  # shared by this test's restarts, by no other

    async def start(name: str, **env: Any) -> ServiceProcess:
        base = {
            "kafka_bootstrap": infrastructure.kafka_bootstrap,
            "log_json": "false",
            "consumer_backoff_s": 0.05,
            "consumer_group_prefix": groups,
            **TEST_KAFKA_TIMEOUTS,
        }
        process = ServiceProcess(name, {**base, **env}, tmp_path / f"{name}.log")
        started.append(process)
        await process.start()
        return process

    yield start
    for process in started:
        process.stop()
