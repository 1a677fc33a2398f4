"""Gateway upstream transport: httpx (tuned Limits) vs the aiohttp transport, side by side.

Run: ``uv run python bench/gateway_transport.py [--requests N] [--rounds R]``.
Starts one upstream and two gateways (one per transport) as separate uvicorn processes on
loopback, then drives ~32 concurrent requests through each gateway in alternating rounds
(bounded in count and in time) and prints requests/s for each and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack

import aiohttp
from vareon_chassis.embedded import free_port

CONCURRENCY = 32
ROUND_TIME_LIMIT_S = 15.0
PATH = "/api/v1/auth/login"  # public at the edge: measures the proxy hop, not token checks
BODY = b'{"email": "ada@example.com", "password": "correct horse battery staple"}'

UPSTREAM = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def answer(request):
    body = await request.body()
    return JSONResponse({"ok": True, "received": len(body), "pad": "x" * 512})

app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
"""


def _spawn(stack: ExitStack, args: list[str], env: dict[str, str]) -> None:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(process.wait, 10)
    stack.callback(process.terminate)


async def _wait_up(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def _round(session: aiohttp.ClientSession, url: str, count: int) -> float:
    remaining = count
    deadline = time.monotonic() + ROUND_TIME_LIMIT_S
    done = 0

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            async with session.post(
                url + PATH, data=BODY, headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"unexpected status {response.status}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def main(requests: int, rounds: int) -> None:
    upstream_port = free_port()
    gateways = {"httpx": free_port(), "aiohttp": free_port()}
    with ExitStack() as stack:
        _spawn(
            stack,
            [
                "-c",
                UPSTREAM
                + f"""
import uvicorn
uvicorn.run(app, host="127.0.0.1", port={upstream_port}, log_level="warning",
            access_log=False)
""",
            ],
            {},
        )
        for transport, port in gateways.items():
            _spawn(
                stack,
                [
                    "-m",
                    "uvicorn",
                    "vareon_gateway.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                {
                    "GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{upstream_port}",
                    "GATEWAY_UPSTREAM_TRANSPORT": transport,
                    "GATEWAY_LOG_LEVEL": "WARNING",
                },
            )
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _wait_up(session, f"http://127.0.0.1:{upstream_port}/")
            for port in gateways.values():
                await _wait_up(session, f"http://127.0.0.1:{port}/health/live")
                await _round(session, f"http://127.0.0.1:{port}", 200)  # warm up pools
            results: dict[str, list[float]] = {name: [] for name in gateways}
            for i in range(rounds):
                order = list(gateways) if i % 2 == 0 else list(reversed(gateways))
                for name in order:
                    results[name].append(
                        await _round(session, f"http://127.0.0.1:{gateways[name]}", requests)
                    )
    print(
        f"gateway proxy throughput, {CONCURRENCY} concurrent, {requests} requests x "
        f"{rounds} rounds per transport (median):"
    )
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        rounds_text = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {name:8s} {medians[name]:8.0f} req/s   (rounds: {rounds_text})")
    print(f"  aiohttp / httpx = {medians['aiohttp'] / medians['httpx']:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
