"""A real `vareon up` for a bench: a free block of ports, its own state directory, waiting for
it to be ready, stopping it; and the fake OpenAI server the benches route a category to."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

FAKE_SERVER = """
import sys, uvicorn
from vareon_chassis.testing.fake_openai import FakeOpenAI
uvicorn.run(FakeOpenAI().app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port_block(span: int = 110) -> int:
    """A port offset N with 8000+N .. 8000+N+span all free."""
    for offset in range(20_000, 40_000, 211):
        ports = range(8000 + offset, 8000 + offset + span)
        ok = True
        for port in ports:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    ok = False
                    break
        if ok:
            return offset
    raise RuntimeError("no free block of ports")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    state_file: Path, process: subprocess.Popen[bytes], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vareon up exited with {process.returncode}; see its log")
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(state_file.read_text())
            if state.get("status") == "ready":
                return dict(state)
        time.sleep(0.5)
    raise RuntimeError("vareon up not ready in time")


def start_platform(
    env: dict[str, str], state_dir: Path, log_name: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """`vareon up` on its own ports and state directory, its output in a log file."""
    up_log = Path(tempfile.gettempdir()) / log_name
    argv = [sys.executable, "-m", "vareon_local", "up", "--state-dir", str(state_dir)]
    argv += ["--port-offset", str(free_port_block()), "--ready-timeout", "300"]
    up = subprocess.Popen(  # noqa: S603 - fixed argv
        argv, env=env, stdout=up_log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT
    )
    return up, up_log


def stop_platform(up: subprocess.Popen[bytes]) -> None:
    up.send_signal(signal.SIGINT)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        up.kill()
