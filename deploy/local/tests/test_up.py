"""A real `vareon up` as a subprocess: embedded PostgreSQL, the Tansu broker, every service.

What a first start must do is checked here; the test that runs it is in test_restart.py, on
the platform it then stops and starts again (a cold start of every service is the costliest
step of the suite: one fewer saves 30 s on a quiet machine, minutes on a loaded one)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from vareon_local.infra import is_alive
from vareon_local.layout import discover, find_repo_root
from vareon_local.supervisor import port_free

ROOT = find_repo_root(Path(__file__).parent)
EXPECTED = {s.name for s in discover(ROOT) if s.missing() is None}


def _free_offset() -> int:
    for _ in range(50):
        offset = random.randrange(20_000, 50_000, 10)
        if all(port_free(s.port) for s in discover(ROOT, offset)):
            return offset
    raise RuntimeError("no free port range")


def _vareon(*args: str) -> list[str]:
    return [sys.executable, "-m", "vareon_local", *args]


def _wait_for(predicate, timeout_s: float, what: str, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if process.poll() is not None:
            pytest.fail(
                f"vareon up exited ({process.returncode}) before {what}:\n" + log.read_text()
            )
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n" + log.read_text())


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/health/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _read_state(path: Path) -> dict | None:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads(path.read_text())
    return None


def check_serves_every_service(
    up: subprocess.Popen[bytes], state: dict, offset: int, log: Path
) -> set[int]:
    """Every service ready on its port, a second `vareon up` refused, a crashed service
    restarted by the supervisor; the pids seen (none may outlive the platform's stop)."""
    state_dir = log.parent / "state"
    state_file = state_dir / "state.json"
    print(f"vareon up timings (cold, {len(EXPECTED)} services): {state['timings_s']}")

    services = state["services"]
    assert set(services) == EXPECTED
    assert state["broker"]["storage"] == "memory"
    seen_pids = {
        state["postgres"]["pid"],
        state["broker"]["pid"],
        *(s["pid"] for s in services.values()),
    }
    assert all(is_alive(pid) for pid in seen_pids)
    ports = {s.name: s.port for s in discover(ROOT, offset)}
    for name, service in services.items():
        assert service["port"] == ports[name]
        assert _ready(service["url"]), name
        if service["database_url"]:
            assert service["database_url"].split("?")[0].endswith(f"/vareon_{name}")
    if "gateway" in services:
        assert services["gateway"]["port"] == 8000 + offset
        assert httpx.get(state["gateway_url"] + "/health/live", timeout=5).status_code == 200

    second = subprocess.run(
        _vareon("up", "--state-dir", str(state_dir), "--port-offset", str(offset + 5)),
        capture_output=True,
        text=True,
        timeout=180,  # a bound for a loaded machine (it took over 60 s at load 28)
        cwd=ROOT,
    )
    assert second.returncode == 1
    assert "already uses" in second.stdout and str(up.pid) in second.stdout

    if services:  # a crashed service is restarted by the supervisor
        name = sorted(services)[0]
        os.kill(services[name]["pid"], signal.SIGKILL)
        restarted = _wait_for(
            lambda: (
                (s := _read_state(state_file))
                and s["services"][name]["restarts"] == 1
                and s["services"][name]
            ),
            60,
            f"a restart of {name}",
            up,
            log,
        )
        seen_pids.add(restarted["pid"])
        _wait_for(lambda: _ready(restarted["url"]), 60, f"{name} ready again", up, log)
        assert is_alive(restarted["pid"])
    return seen_pids


def check_stopped_cleanly(code: int, log: Path, seen_pids: set[int]) -> None:
    """SIGTERM stopped everything it started, removed its state and released its lock."""
    state_dir = log.parent / "state"
    output = log.read_text()
    assert code == 143, output
    assert "stopped in" in output
    leftovers = sorted(pid for pid in seen_pids if is_alive(pid))
    assert not leftovers, f"still running: {leftovers}\n{output}"
    assert not (state_dir / "state.json").exists()
    with open(state_dir / "vareon.lock", "a") as lock:  # the lock was released
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
