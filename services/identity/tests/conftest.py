from __future__ import annotations

import asyncio
import email
import email.policy
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from vareon_chassis.embedded import free_port
from vareon_identity.app import create_app
from vareon_identity.keys import generate_signing_key
from vareon_identity.settings import IdentitySettings

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
PASSWORD = "correct horse battery"


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    generate_signing_key(tmp_path / "keys")
    return tmp_path / "keys"


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(infrastructure: Any) -> str:
    return await infrastructure.migrated_database("identity", ALEMBIC_INI)


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd, in its own thread) keeping what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    async def wait_for(self, recipient: str, count: int = 1, timeout_s: float = 60) -> list[Any]:
        for _ in range(int(timeout_s / 0.05)):
            found = [m for m in self.messages if m["To"] == recipient]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{len(found)}/{count} mails to {recipient}")

    async def token_for(self, recipient: str, count: int = 1) -> str:
        body = (await self.wait_for(recipient, count))[count - 1].get_content()
        match = re.search(r"verify-email\?token=([\w-]+)", body)
        assert match, body
        return match.group(1)


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def settings(
    infrastructure: Any, database_url: str, keys_dir: Path, mailbox: Mailbox
) -> IdentitySettings:
    # Cheaper Argon2 parameters keep the suite fast; the hashing code path is the same.
    return IdentitySettings(
        database_url=database_url,
        signing_keys_dir=keys_dir,
        argon2_time_cost=1,
        argon2_memory_cost_kib=8192,
        argon2_parallelism=1,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        mail_poll_interval_s=0.2,
        public_base_url="https://vareon.test",
        **infrastructure.service_env(),
    )


class Client(httpx.AsyncClient):
    app: FastAPI

    async def register(
        self, email: str | None = None, password: str = PASSWORD, display_name: str = "Ada"
    ) -> dict[str, Any]:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        response = await self.post(
            "/api/v1/auth/register",
            json={"email": email, "password": password, "display_name": display_name},
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def signed_up(self) -> tuple[dict[str, Any], dict[str, Any]]:
        user = await self.register()
        return user, await self.login(user["email"])


def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture(loop_scope="session")
async def client(settings: IdentitySettings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with LifespanManager(app, shutdown_timeout=30):
        async with Client(
            transport=httpx.ASGITransport(app=app), base_url="http://identity"
        ) as http:
            http.app = app
            yield http
