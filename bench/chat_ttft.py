"""Chat time to first token: the fake OpenAI server directly vs through gateway + arcana.

Run: ``uv run python bench/chat_ttft.py [--requests 60]``.

Starts the fake OpenAI server and a real ``vareon up`` (embedded PostgreSQL and broker, every
service, the gateway) as bench/load.py does, signs one user up, routes the ``bench-fake``
category to the fake server (a paid rule: admission reserves credits, settlement charges once),
then sends sequential streamed requests, interleaved: a chat completion straight to the fake
server, a message to the arcana session directly (no gateway), the same through the gateway.
Time to first token is from sending the request to reading the first content chunk
(``data: {...content...}`` from the fake server, ``event: chunk`` from arcana). Prints p50/p90
of each and what it adds over the fake server.
``--profile arcana`` samples a service with py-spy (``PY_SPY`` names the binary).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.measures import Stats, profile  # bench/ is not a package
from harness.platform import FAKE_SERVER, free_port, start_platform, stop_platform, wait_ready
from harness.users import Mailbox, User, prepare


async def first_chunk(http: aiohttp.ClientSession, url: str, marker: bytes, **kwargs: Any) -> float:
    """Seconds until a line holding ``marker``; the rest of the stream is read and dropped."""
    started = time.perf_counter()
    first = None
    async with http.post(url, **kwargs) as response:
        assert response.status == 200, (response.status, await response.text())
        async for line in response.content:
            if first is None and marker in line:
                first = time.perf_counter() - started
    assert first is not None, f"no chunk from {url}"
    return first


async def drive(args: argparse.Namespace, state: dict[str, Any], fake: str, mail: Path) -> None:
    base = state["gateway_url"].replace("//localhost:", "//127.0.0.1:")
    assert base.startswith("http://127.0.0.1:"), base
    await prepare(base, state["services"]["identity"]["database_url"])
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        user = User(http, Stats(10_000), base, 1, asyncio.get_running_loop().time() + 120)
        user.retries = 1_000
        assert await user.sign_up(Mailbox(mail)), "sign-up failed"
        status, chat = await user.call(
            "session",
            "POST",
            "/api/v1/arcana/sessions",
            json={"category": "bench-fake"},
            headers=user.auth,
        )
        assert status == 201, chat
        url = f"{base}/api/v1/arcana/sessions/{chat['id']}/messages"
        body = {"content": "hello, how are you?", "max_tokens": 16}
        for _ in range(100):  # the signup bonus reaches arcana's balance replica by event
            async with http.post(url, json=body, headers=user.auth) as r:
                await r.read()
                if r.status == 200:
                    break
            await asyncio.sleep(0.2)
        direct_body = {
            "model": "bench-model",
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hello, how are you?"}],
        }
        arcana = state["services"]["arcana"]["url"].replace("//localhost:", "//127.0.0.1:")
        arcana_url = arcana + url.removeprefix(base)
        targets = {
            "fake OpenAI server direct": (
                f"{fake}/v1/chat/completions",
                b'"content"',
                direct_body,
                {"Authorization": "Bearer bench"},
            ),
            "arcana direct": (arcana_url, b"event: chunk", body, user.auth),
            "gateway + arcana": (url, b"event: chunk", body, user.auth),
        }
        spies = []
        results: dict[str, list[float]] = {name: [] for name in targets}
        for i in range(args.requests + args.warmup):
            if i == args.warmup:
                for name in args.profile:
                    pid = state["services"][name]["pid"]
                    spies.append(profile(name, pid, args.profile_seconds, args.profile_dir))
            if args.fresh_sessions:  # no history: the fixed cost of a turn, not its context's
                _, chat = await user.call(
                    "session",
                    "POST",
                    "/api/v1/arcana/sessions",
                    json={"category": "bench-fake"},
                    headers=user.auth,
                )
                path = f"/api/v1/arcana/sessions/{chat['id']}/messages"
                targets["arcana direct"] = (arcana + path, *targets["arcana direct"][1:])
                targets["gateway + arcana"] = (base + path, *targets["gateway + arcana"][1:])
            for name, (target, marker, payload, headers) in targets.items():
                took = await first_chunk(http, target, marker, json=payload, headers=headers)
                if i >= args.warmup:
                    results[name].append(took * 1000)
        for spy in spies:
            spy.wait(60)
    report(results, args.fresh_sessions)


def report(results: dict[str, list[float]], fresh: bool) -> None:
    def q(values: list[float], p: int) -> float:
        return statistics.quantiles(values, n=100)[p - 1]

    direct = statistics.median(results["fake OpenAI server direct"])
    n = len(next(iter(results.values())))
    history = "a new session each round" if fresh else "one session, its history growing"
    print(f"\nchat TTFT, {n} sequential streamed requests per target, interleaved, {history} (ms)")
    print(f"{'target':28s} {'p50':>8s} {'p90':>8s} {'mean':>8s} {'added p50':>10s}")
    for name, values in results.items():
        p50 = statistics.median(values)
        print(
            f"{name:28s} {p50:8.2f} {q(values, 90):8.2f} {statistics.fmean(values):8.2f} "
            f"{p50 - direct:+10.2f}"
        )
    print("target: gateway + arcana adds <= 5 ms (p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--fresh-sessions",
        action="store_true",
        help="a new session each round (default: one session whose history grows)",
    )
    parser.add_argument(
        "--profile", action="append", default=[], help="py-spy this service (repeatable)"
    )
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument("--profile-dir", type=Path, default=Path("bench/profiles"))
    args = parser.parse_args()
    fake_port = free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    with tempfile.TemporaryDirectory(prefix="vareon-ttft-") as tmp:
        fake = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(fake_port)])  # noqa: S603
        env = {
            **os.environ,
            "ARCANA_PROVIDERS": json.dumps(
                {"fake": {"base_url": fake_url + "/v1", "api_key": "bench"}}
            ),
            "GATEWAY_RATE_LIMIT_ENABLED": "false",
        }
        state_dir = Path(tmp) / "state"
        up, up_log = start_platform(env, state_dir, "vareon-ttft-up.log")
        try:
            try:
                state = wait_ready(state_dir / "state.json", up, timeout_s=330)
            except RuntimeError:
                print(up_log.read_text(errors="replace")[-3000:])
                raise
            asyncio.run(drive(args, state, fake_url, state_dir / "mail"))
        finally:
            stop_platform(up)
            fake.terminate()
            fake.wait(10)


if __name__ == "__main__":
    main()
