from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_arcana.app import create_app
from vareon_arcana.settings import ArcanaSettings, ProviderSettings
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.testing.fake_openai import FakeOpenAI
from vareon_chassis.testing.plugin import serve
from vareon_chassis.testing.tokens import TestSigningKey
from vareon_contracts import Envelope, EventPayload, encode_kafka
from vareon_contracts.events.cognisys import ModelTarget, RoutingRuleChangedV1, RuleConditions
from vareon_contracts.events.wallet import BalanceChangedV1

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fake() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    server = FakeOpenAI()
    async with serve(server.app) as url:
        yield server, url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def database_url(infrastructure: Any) -> str:
    return await infrastructure.migrated_database("arcana", ALEMBIC_INI)


@pytest.fixture(scope="module")
def settings(
    infrastructure: Any, database_url: str, fake: tuple[FakeOpenAI, str]
) -> ArcanaSettings:
    return ArcanaSettings(
        database_url=database_url,
        providers={
            "fake": ProviderSettings(base_url=fake[1] + "/v1", api_key="test-key"),
            "fake-no-tools": ProviderSettings(
                base_url=fake[1] + "/v1", api_key="test-key", tools=False
            ),
            "openai": ProviderSettings(),
        },
        provider_timeout_s=1.5,
        retry_after_cap_s=1.0,
        stream_grace_s=0,  # a client gone stops its call at once (test_live_replies: a grace)
        title_model="vareon-offline-1",  # no title calls to the fake models (test_titles: some)
        db_pool_size=25,
        db_max_overflow=5,
        **infrastructure.service_env(),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def arcana_url(settings: ArcanaSettings, signing_key: TestSigningKey) -> AsyncIterator[str]:
    verifier = signing_key.verifier()
    async with serve(create_app(settings, token_verifier=verifier)) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def client(arcana_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=arcana_url, timeout=20.0) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=5, max_overflow=0)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def producer(infrastructure: Any) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=False, acks="all"
    )
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


Publish = Callable[..., Awaitable[Envelope]]


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Publish:
    async def send(payload: EventPayload, envelope: Envelope | None = None) -> Envelope:
        envelope = envelope or Envelope.wrap(payload, source="tests")
        key, value, headers = encode_kafka(envelope)
        await producer.send_and_wait(payload.topic, value=value, key=key, headers=headers)
        return envelope

    return send


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (a consumer caught up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


def target(
    model: str, provider: str = "fake", price_in: int = 0, price_out: int = 0
) -> ModelTarget:
    return ModelTarget(
        provider=provider, model=model, input_price_per_1k=price_in, output_price_per_1k=price_out
    )


def rule(
    category: str,
    targets: list[ModelTarget],
    *,
    rule_id: uuid.UUID | None = None,
    revision: int = 1,
    deleted: bool = False,
    priority: int = 100,
) -> RoutingRuleChangedV1:
    return RoutingRuleChangedV1(
        rule_id=rule_id or uuid.uuid4(),
        revision=revision,
        name=f"rule-{category}",
        priority=priority,
        enabled=True,
        is_default=False,
        conditions=RuleConditions(categories=[category]),
        targets=targets,
        deleted=deleted,
        changed_at=datetime.now(UTC),
    )


def balance(
    user_id: uuid.UUID, available: int, *, at: datetime | None = None, **marker: Any
) -> BalanceChangedV1:
    """``marker``: the causal fields (seq, arcana_usage_seq) the wallet sets."""
    return BalanceChangedV1(
        wallet_id=uuid.uuid4(),
        user_id=user_id,
        balance=available,
        change=available,
        reason="test",
        transfer_id=uuid.uuid4(),
        changed_at=at or datetime.now(UTC),
        pending=0,
        available=available,
        kind="grant",
        **marker,
    )
