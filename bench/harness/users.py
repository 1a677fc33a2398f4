"""Simulated users through the gateway: sign-up (the verification mail read from the SMTP
catcher's files), then a loop of refresh, wallet, chat session calls; and the admin who routes
``bench-fake`` to the fake OpenAI server."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from harness.measures import Stats
from harness.platform import ROOT

PASSWORD = "load bench password 1"  # noqa: S105 - simulated users
TOKEN = re.compile(r"verify-email\?token=([A-Za-z0-9_\-.~%]+)")


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
