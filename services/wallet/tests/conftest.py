from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.testing.tokens import TestSigningKey
from vareon_wallet.accounts import Policy
from vareon_wallet.app import create_app
from vareon_wallet.settings import WalletSettings

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
BONUS = 10_000_000
THRESHOLD = 1_000_000


@pytest.fixture
def auth(signing_key: TestSigningKey) -> Callable[..., dict[str, str]]:
    def headers(user_id: uuid.UUID, *permissions: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {signing_key.token(user_id, permissions)}"}

    return headers


@pytest_asyncio.fixture
async def database_url(infrastructure) -> str:
    return await infrastructure.migrated_database("wallet", ALEMBIC_INI)


@pytest.fixture
def settings(database_url: str, infrastructure) -> WalletSettings:
    return WalletSettings(
        database_url=database_url,
        initial_wallet_balance=BONUS,
        low_balance_threshold=THRESHOLD,
        hold_sweep_interval_s=0.2,
        **infrastructure.service_env(),
    )


@pytest.fixture
def policy(settings: WalletSettings) -> Policy:
    return Policy.from_settings(settings)


@pytest_asyncio.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=20, max_overflow=0)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def app(settings: WalletSettings, signing_key: TestSigningKey):
    verifier = signing_key.verifier()
    application = create_app(settings, token_verifier=verifier)
    async with LifespanManager(application, shutdown_timeout=30) as manager:
        yield manager.app


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wallet") as c:
        yield c
