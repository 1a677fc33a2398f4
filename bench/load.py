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
import contextlib
import email
import email.policy
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load bench password 1"  # noqa: S105 - simulated users
TOKEN = re.compile(r"verify-email\?token=([A-Za-z0-9_\-.~%]+)")
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


class Stats:
    def __init__(self, max_requests: int) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[int]] = defaultdict(Counter)
        self.requests = 0
        self.max_requests = max_requests

    def record(self, step: str, status: int, seconds: float) -> None:
        self.requests += 1
        self.status[step][status] += 1
        self.latency[step].append(seconds)

    @property
    def exhausted(self) -> bool:
        return self.requests >= self.max_requests


class Mailbox:
    """The SMTP catcher's files, read once each: email address -> verification token."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tokens: dict[str, str] = {}
        self._seen: set[str] = set()

    def scan(self) -> None:
        if not self.directory.exists():
            return
        for path in sorted(self.directory.glob("*.eml")):
            if path.name in self._seen:
                continue
            self._seen.add(path.name)
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            found = TOKEN.search(body.get_content() if body else "")
            if found:
                self.tokens[str(message["To"]).strip().lower()] = found.group(1)

    async def token(self, address: str, deadline: float) -> str | None:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            self.scan()
            if address in self.tokens:
                return self.tokens[address]
            await asyncio.sleep(0.25)
        return None


class User:
    def __init__(
        self, http: aiohttp.ClientSession, stats: Stats, base: str, index: int, deadline: float
    ) -> None:
        self.http, self.stats, self.base, self.deadline = http, stats, base, deadline
        self.email = f"load-{index}-{uuid.uuid4().hex[:6]}@example.com"
        self.category = "bench-fake" if index % 2 else "general"
        self.tokens: dict[str, Any] = {}
        self.retries = 5

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    async def call(
        self, step: str, method: str, path: str, *, stream: bool = False, **kwargs: Any
    ) -> tuple[int, Any]:
        """One request, waiting out 503/429 with Retry-After (at most ``self.retries`` times)."""
        loop = asyncio.get_running_loop()
        for _ in range(self.retries):
            if self.stats.exhausted or loop.time() > self.deadline:
                raise TimeoutError
            started = time.perf_counter()
            try:
                async with self.http.request(method, self.base + path, **kwargs) as response:
                    if stream and response.status == 200:
                        async for _line in response.content:
                            pass
                        body: Any = None
                    else:
                        raw = await response.read()
                        body = (
                            json.loads(raw)
                            if raw and response.content_type.endswith("json")
                            else raw
                        )
                    status, retry = response.status, response.headers.get("Retry-After")
            except TimeoutError:
                status, retry, body = 598, None, None  # no answer in 30 s
            except aiohttp.ClientError:
                status, retry, body = 599, None, None  # connection refused or dropped
            self.stats.record(step, status, time.perf_counter() - started)
            if status in (429, 503) and retry is not None:
                await asyncio.sleep(min(float(retry), 5.0))
                continue
            return status, body
        return status, body

    async def sign_up(self, mailbox: Mailbox) -> bool:
        status, _ = await self.call(
            "register",
            "POST",
            "/api/v1/auth/register",
            json={"email": self.email, "password": PASSWORD, "display_name": "Load"},
        )
        if status != 201:
            return False
        token = await mailbox.token(self.email, self.deadline)
        if token is None:
            return False
        status, _ = await self.call(
            "verify", "POST", "/api/v1/auth/verify-email", json={"token": token}
        )
        if status != 200:  # an unverified user would meet 403 on every paid model
            return False
        status, body = await self.call(
            "login", "POST", "/api/v1/auth/login", json={"email": self.email, "password": PASSWORD}
        )
        if status != 200:
            return False
        self.tokens = body
        return True

    async def loop(self) -> None:
        while True:
            status, body = await self.call(
                "refresh",
                "POST",
                "/api/v1/auth/refresh",
                json={"refresh_token": self.tokens["refresh_token"]},
            )
            if status == 200:
                self.tokens = body
            await self.call("wallet", "GET", "/api/v1/wallet", headers=self.auth)
            status, session = await self.call(
                "create-session",
                "POST",
                "/api/v1/arcana/sessions",
                json={"category": self.category},
                headers=self.auth,
            )
            if status != 201:
                continue
            sid = session["id"]
            await self.call(
                f"chat-{'fake' if self.category == 'bench-fake' else 'offline'}",
                "POST",
                f"/api/v1/arcana/sessions/{sid}/messages",
                json={"content": "hello, how are you?"},
                headers=self.auth,
                stream=True,
            )
            await self.call("list-sessions", "GET", "/api/v1/arcana/sessions", headers=self.auth)
            await self.call(
                "delete-session", "DELETE", f"/api/v1/arcana/sessions/{sid}", headers=self.auth
            )

    async def run_sign_up(self, mailbox: Mailbox) -> None:
        self.retries = 1_000  # a storm: wait out every Retry-After until the phase ends
        with contextlib.suppress(TimeoutError):
            await self.sign_up(mailbox)
        self.retries = 5

    async def run_loop(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self.loop()


async def prepare(base: str, identity_db: str) -> None:
    """An admin routes ``bench-fake`` to the fake OpenAI server."""
    sys.path[:0] = [str(ROOT / "services/identity/src")]
    from vareon_identity.bootstrap import seed_admin_at

    admin = f"load-admin-{uuid.uuid4().hex[:6]}@example.com"
    await seed_admin_at(identity_db, email=admin, password=PASSWORD)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            base + "/api/v1/auth/login", json={"email": admin, "password": PASSWORD}
        ) as r:
            tokens = await r.json()
        rule = {
            "name": "bench-fake",
            "priority": 500,
            "conditions": {"categories": ["bench-fake"]},
            "targets": [
                {
                    "provider": "fake",
                    "model": "bench-model",
                    "input_price_per_1k": 1,
                    "output_price_per_1k": 1,
                }
            ],
        }
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with http.post(
            base + "/api/v1/cognisys/routing-rules", json=rule, headers=headers
        ) as r:
            assert r.status == 201, await r.text()


def rss(pids: dict[str, int]) -> dict[str, int]:
    out = {}
    for name, pid in pids.items():
        with contextlib.suppress(psutil.Error):
            out[name] = psutil.Process(pid).memory_info().rss
    return out


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(stats: Stats, elapsed: float) -> None:
    print(f"\nrequests: {stats.requests} in {elapsed:.1f} s ({stats.requests / elapsed:.0f}/s)")
    print(f"{'step':<16}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    for step, values in stats.latency.items():
        ms = [v * 1000 for v in values]
        statuses = " ".join(f"{s}x{n}" for s, n in sorted(stats.status[step].items()))
        print(
            f"{step:<16}{len(ms):>7}{percentile(ms, 50):>9.0f}{percentile(ms, 95):>9.0f}"
            f"{percentile(ms, 99):>9.0f}  {statuses}"
        )
    errors = Counter[int]()
    for counts in stats.status.values():
        errors.update({s: n for s, n in counts.items() if s >= 400})
    print("errors by status:", dict(sorted(errors.items())) or "none")


def memory(before: dict[str, int], warm: dict[str, int], after: dict[str, int]) -> None:
    print(
        f"{'service':<12}{'RSS start':>10}{'warm':>8}{'end MB':>8}{'growth':>8}{'since warm':>12}"
    )
    for name in sorted(before):
        if name in after and name in warm:
            mb = [before[name] / 2**20, warm[name] / 2**20, after[name] / 2**20]
            print(
                f"{name:<12}{mb[0]:>10.1f}{mb[1]:>8.1f}{mb[2]:>8.1f}"
                f"{(mb[2] - mb[0]) / mb[0] * 100:>7.1f}%{(mb[2] - mb[1]) / mb[1] * 100:>11.1f}%"
            )


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


def profile(name: str, pid: int, seconds: float, directory: Path) -> subprocess.Popen[bytes]:
    """py-spy samples one service for the run (collapsed stacks: ``<dir>/<name>.txt``)."""
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [
            os.environ.get("PY_SPY", "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "50",
            "--format",
            "raw",
            "--output",
            str(directory / f"{name}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
