"""Helpers for training tests: a known dataset, real worker processes, polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .conftest import API

LEASE_S = 2.0
"""A lease short enough for a test to wait out (crash tests)."""
SAFE_LEASE_S = 60.0
"""Workers of tests that are not about expiry: a worker starved of CPU on a loaded machine
must not lose its job to the sweeper (a second attempt is not what those tests check)."""


def known_frame(n: int = 240, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, n).round(4)
    x2 = rng.uniform(0, 10, n).round(3)
    x3 = rng.normal(5, 2, n).round(3)
    label = np.where(x1 + 0.2 * x2 + rng.normal(0, 0.7, n) > 1.0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "label": label})


async def upload(client: Any, headers: dict[str, str], name: str, frame: pd.DataFrame) -> Any:
    response = await client.post(
        f"{API}/datasets",
        params={"name": name, "format": "csv"},
        content=frame.to_csv(index=False).encode(),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def worker_env(settings: Any, lease_s: float = SAFE_LEASE_S, **extra: Any) -> dict[str, str]:
    env = {
        **os.environ,
        "NEOSYNTIS_DATABASE_URL": settings.database_url,
        "NEOSYNTIS_STORAGE_DIR": str(settings.storage_dir),
        "NEOSYNTIS_TRAINING_LEASE_S": str(lease_s),
        "NEOSYNTIS_TRAINING_HEARTBEAT_S": "0.4",
        "NEOSYNTIS_TRAINING_POLL_INTERVAL_S": "0.2",
        "NEOSYNTIS_TRAINING_SWEEP_INTERVAL_S": "0.3",
        "NEOSYNTIS_LOG_JSON": "false",
        "OMP_NUM_THREADS": "1",
    }
    env.update({f"NEOSYNTIS_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class Workers:
    def __init__(self, settings: Any, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, lease_s: float = SAFE_LEASE_S) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "vareon_neosyntis.worker", "worker", "--name", name],
            env=worker_env(self.settings, lease_s),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def workers(
    settings: Any, tmp_path: Path, *names: str, lease_s: float = SAFE_LEASE_S
) -> Iterator[Workers]:
    pool = Workers(settings, tmp_path)
    try:
        for name in names:
            pool.start(name, lease_s)
        yield pool
    finally:
        pool.stop_all()


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout_s: float = 60.0, every_s: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s (last: {result!r})")
        await asyncio.sleep(every_s)


async def job_in(client: Any, headers: dict[str, str], job_id: str, *states: str) -> Any:
    async def check() -> Any:
        job = (await client.get(f"{API}/training-jobs/{job_id}", headers=headers)).json()
        return job if job["state"] in states else None

    return check
