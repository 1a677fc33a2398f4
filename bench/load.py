"""Load: simulated users through the gateway of a real `vareon up`, on loopback only.

Run: ``uv run python bench/load.py [--users 200] [--seconds 60] [--signup-seconds 180]``.
Starts ``vareon up`` in a temporary state dir on a free block of ports (embedded PostgreSQL,
the embedded broker, every service, the gateway) and the fake OpenAI server, seeds an admin
who routes the ``bench-fake`` category to the fake server, then runs two phases:

1. the sign-up storm: all ``--users`` at once register, read the verification mail the local
   SMTP catcher kept, verify and log in, waiting out every 503/429 Retry-After, for at most
   ``--signup-seconds``;
2. the load: every user that signed up loops for ``--seconds``: refresh, wallet, create a
   session (odd users on the fake OpenAI server, even ones on the offline model), chat
   (streamed), list, delete (a 503/429 with Retry-After is waited out, at most 5 times).

Bounded: ``--max-requests`` per phase, each phase by its time. Prints, per phase, requests,
errors by status (598: no answer in 30 s, 599: connection failed) and p50/p95/p99 per step,
and each service's memory (RSS) at the start of the load, after a sixth of it (warm) and at
its end. Per-IP limits (identity's, the gateway's edge limits) are lifted for the run: every
simulated user comes from 127.0.0.1. ``--profile arcana`` samples a service with py-spy
during the load (``PY_SPY`` names the binary) into ``--profile-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from harness.measures import Stats, memory, profile, report, rss
from harness.platform import FAKE_SERVER, free_port, start_platform, stop_platform, wait_ready
from harness.users import Mailbox, User, prepare


async def drive(args: argparse.Namespace, state: dict[str, Any], mail_dir: Path) -> None:
    base = state["gateway_url"].replace("//localhost:", "//127.0.0.1:")
    assert base.startswith("http://127.0.0.1:"), base  # loopback only
    await prepare(base, state["services"]["identity"]["database_url"])
    pids = {name: svc["pid"] for name, svc in state["services"].items() if svc.get("pid")}
    stats = Stats(args.max_requests)
    mailbox = Mailbox(mail_dir)
    connector = aiohttp.TCPConnector(limit=args.users, limit_per_host=args.users)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        loop = asyncio.get_running_loop()
        signups = Stats(args.max_requests)
        deadline = loop.time() + args.signup_seconds
        users = [User(http, signups, base, i, deadline) for i in range(args.users)]
        started = loop.time()
        await asyncio.wait(
            [asyncio.create_task(u.run_sign_up(mailbox)) for u in users],
            timeout=args.signup_seconds + 35,
        )
        ready = [u for u in users if u.tokens]
        print(f"\nsign-up storm: {args.users} at once, {len(ready)} signed up and logged in")
        report(signups, loop.time() - started)

        before = rss(pids)
        started = loop.time()
        deadline = started + args.seconds
        for user in ready:
            user.stats, user.deadline = stats, deadline
        tasks = [asyncio.create_task(u.run_loop()) for u in ready]
        profiles = [profile(n, pids[n], args.seconds, args.profile_dir) for n in args.profile]
        await asyncio.sleep(args.seconds / 6)
        warm = rss(pids)  # after imports and caches the first requests fill
        _, late = await asyncio.wait(tasks, timeout=args.seconds * 2)
        for task in late:
            task.cancel()
        elapsed = loop.time() - started
        after = rss(pids)
    for spy in profiles:
        spy.wait(30)
    print(f"\nload: {len(ready)} users looping for {args.seconds:.0f} s")
    report(stats, elapsed)
    memory(before, warm, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument(
        "--signup-seconds", type=float, default=180.0, help="bound of the sign-up storm"
    )
    parser.add_argument(
        "--profile", action="append", default=[], help="py-spy this service (repeatable)"
    )
    parser.add_argument("--profile-dir", type=Path, default=Path("bench/profiles"))
    args = parser.parse_args()
    fake_port = free_port()
    with tempfile.TemporaryDirectory(prefix="vareon-load-") as tmp:
        fake = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(fake_port)])  # noqa: S603
        env = {
            **os.environ,
            "ARCANA_PROVIDERS": json.dumps(
                {"fake": {"base_url": f"http://127.0.0.1:{fake_port}/v1", "api_key": "bench"}}
            ),
            "IDENTITY_LOGIN_LIMIT_PER_IP": "100000/minute",
            "IDENTITY_REGISTER_LIMIT_PER_IP": "100000/minute",
            "GATEWAY_RATE_LIMIT_ENABLED": "false",
        }
        state_dir = Path(tmp) / "state"
        up, up_log = start_platform(env, state_dir, "vareon-load-up.log")
        try:
            started = time.monotonic()
            try:
                state = wait_ready(state_dir / "state.json", up, timeout_s=330)
            except RuntimeError:
                print(up_log.read_text(errors="replace")[-3000:])
                raise
            print(f"platform ready in {time.monotonic() - started:.1f} s: {state['gateway_url']}")
            asyncio.run(drive(args, state, state_dir / "mail"))
        finally:
            stop_platform(up)
            fake.terminate()
            fake.wait(10)


if __name__ == "__main__":
    main()
