from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.testing.tokens import TestSigningKey
from vareon_myntrix.app import create_app
from vareon_myntrix.settings import MyntrixSettings

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
OPERATOR = ("devices:write", "devices:read", "deployments:write")


@pytest.fixture
def auth(signing_key: TestSigningKey) -> Callable[..., dict[str, str]]:
    def headers(user_id: uuid.UUID, *permissions: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {signing_key.token(user_id, permissions)}"}

    return headers


@pytest.fixture
def operator(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth(uuid.uuid4(), *OPERATOR)


@pytest_asyncio.fixture
async def database_url(infrastructure: Any) -> str:
    return await infrastructure.migrated_database("myntrix", ALEMBIC_INI)


@pytest.fixture
def settings(database_url: str, infrastructure: Any) -> MyntrixSettings:
    return MyntrixSettings(
        database_url=database_url,
        sweep_interval_s=0.1,
        rollout_interval_s=0.1,
        device_inactivity_timeout_s=30,
        command_ttl_s=60,
        run_consumers=False,
        **infrastructure.service_env(),
    )


@pytest.fixture
def consuming(settings: MyntrixSettings) -> MyntrixSettings:
    """Settings for the tests that need the real consumers running (they join groups)."""
    return settings.model_copy(update={"run_consumers": True})


@pytest_asyncio.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=5, max_overflow=0)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def app(settings: MyntrixSettings, signing_key: TestSigningKey) -> AsyncIterator[Any]:
    verifier = signing_key.verifier()
    application = create_app(settings, token_verifier=verifier)
    async with LifespanManager(application, shutdown_timeout=30) as manager:
        yield manager.app


@pytest_asyncio.fixture
async def consuming_app(
    consuming: MyntrixSettings, signing_key: TestSigningKey
) -> AsyncIterator[Any]:
    verifier = signing_key.verifier()
    application = create_app(consuming, token_verifier=verifier)
    # Leaving a consumer group that is still joining can take a few seconds on Tansu.
    async with LifespanManager(application, shutdown_timeout=30) as manager:
        yield manager.app


@pytest_asyncio.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://myntrix") as c:
        yield c


API = "/api/v1/myntrix"


async def register_device(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/hardware", headers=headers, json={"name": "gpu-box", **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def heartbeat(
    client: httpx.AsyncClient,
    device: dict[str, Any],
    *,
    sent_at: datetime | None = None,
    running: dict[str, int] | None = None,
    credential: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"{API}/hardware/{device['id']}/heartbeat",
        headers={"Authorization": f"Device {credential or device['credential']}"},
        json={
            "sent_at": (sent_at or datetime.now(UTC)).isoformat(),
            "load": 0.5,
            "memory_percent": 40.0,
            "temperature_c": 55.0,
            "running_models": [{"model_name": k, "version": v} for k, v in (running or {}).items()],
        },
    )
