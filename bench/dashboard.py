"""Dashboard latency: GET /api/v1/dashboard through the gateway on `vareon up` (issue 20 item 6).

Sequential requests of one signed-up user who has chatted once; prints p50/p95 of the whole
answer and the median of each section's own latency (as the gateway measured it). The
reference, in the same run: the slowest section's own ``GET /api/v1/<service>/summary``
through the gateway, the floor of a concurrent fan-out; the ratio is what the fan-out adds.
Target: <= 50 ms p95 at the gateway on the embedded platform.

    uv run --no-sync python bench/dashboard.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from harness.measures import Stats  # bench/ is not a package
from harness.platform import start_platform, stop_platform, wait_ready
from harness.users import Mailbox, User, prepare


async def drive(args: argparse.Namespace, state: dict[str, Any], mail: Path) -> None:
    base = state["gateway_url"].replace("//localhost:", "//127.0.0.1:")
    await prepare(base, state["services"]["identity"]["database_url"])
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        user = User(http, Stats(10_000), base, 1, asyncio.get_running_loop().time() + 120)
        user.retries = 1_000
        assert await user.sign_up(Mailbox(mail)), "sign-up failed"
        status, chat = await user.call(
            "session",
            "POST",
            "/api/v1/arcana/sessions",
            json={"category": "general"},
            headers=user.auth,
        )
        assert status == 201, chat
        took: list[float] = []
        sections: dict[str, list[float]] = {}
        statuses: dict[str, set[str]] = {}
        for i in range(args.requests + args.warmup):
            started = time.perf_counter()
            async with http.get(f"{base}/api/v1/dashboard", headers=user.auth) as response:
                body = await response.json()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200, body
            if i < args.warmup:
                continue
            took.append(elapsed)
            for name, section in body["sections"].items():
                sections.setdefault(name, []).append(section["latency_ms"])
                statuses.setdefault(name, set()).add(section["status"])
        slowest = max(sections, key=lambda name: statistics.median(sections[name]))
        floor: list[float] = []
        for _ in range(args.requests):
            started = time.perf_counter()
            async with http.get(f"{base}/api/v1/{slowest}/summary", headers=user.auth) as response:
                await response.read()
            assert response.status == 200, response.status
            floor.append((time.perf_counter() - started) * 1000)
    q, fq = statistics.quantiles(took, n=100), statistics.quantiles(floor, n=100)
    print(f"\nGET /api/v1/dashboard, {len(took)} sequential requests (ms)")
    print(f"whole answer: p50 {statistics.median(took):.1f}  p95 {q[94]:.1f}  max {max(took):.1f}")
    for name, values in sections.items():
        print(f"  {name:10s} median {statistics.median(values):6.1f}  {sorted(statuses[name])}")
    print(
        f"reference, {slowest}'s summary alone: p50 {statistics.median(floor):.1f}  "
        f"p95 {fq[94]:.1f}  (dashboard/reference p95 {q[94] / fq[94]:.2f}x)"
    )
    print("target: <= 50 ms p95")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vareon-dashboard-") as tmp:
        env = {**os.environ, "GATEWAY_RATE_LIMIT_ENABLED": "false"}
        state_dir = Path(tmp) / "state"
        up, up_log = start_platform(env, state_dir, "vareon-dashboard-up.log")
        try:
            try:
                state = wait_ready(state_dir / "state.json", up, timeout_s=330)
            except RuntimeError:
                print(up_log.read_text(errors="replace")[-3000:])
                raise
            asyncio.run(drive(args, state, state_dir / "mail"))
        finally:
            stop_platform(up)


if __name__ == "__main__":
    main()
