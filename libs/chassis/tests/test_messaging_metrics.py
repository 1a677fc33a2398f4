"""The outbox gauges and relay counters measure what the relay sees; counts tied to a
transaction happen only when it commits."""

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from aiokafka import AIOKafkaProducer
from models import outbox_table
from prometheus_client import REGISTRY
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_chassis.metrics import _sample, after_commit
from vareon_chassis.service import Messaging
from vareon_contracts.events.identity import UserUpdatedV1

SERVICE = f"metrics-{uuid.uuid4().hex[:6]}"
OUTBOX = Outbox(outbox_table, source="/chassis-test")


def producer_for(infrastructure):
    return lambda: AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")


def update(user_id):
    return UserUpdatedV1(
        user_id=user_id,
        email="m@example.com",
        display_name="m",
        roles=[],
        updated_at=datetime.now(UTC),
    )


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_backlog_age_and_batches(fixture_db, infrastructure):
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    relay = OutboxRelay(
        outbox_table,
        sessions,
        producer_for(infrastructure),
        database_url=fixture_db,
        service=SERVICE,
    )
    settings = SimpleNamespace(
        service_name=SERVICE,
        consumer_group_prefix="",
        kafka_bootstrap=infrastructure.kafka_bootstrap,
    )
    app = SimpleNamespace(
        state=SimpleNamespace(settings=settings, relay=relay, messaging=Messaging())
    )
    try:
        async with sessions.begin() as session:
            await OUTBOX.publish(session, update(uuid.uuid4()))
        await _sample(app)
        assert value("vareon_outbox_pending", service=SERVICE) == 1
        assert value("vareon_outbox_oldest_pending_age_seconds", service=SERVICE) > 0

        batches = value("vareon_outbox_relay_batches_total", service=SERVICE)
        assert await relay.relay_batch() == 1
        assert value("vareon_outbox_relay_batches_total", service=SERVICE) == batches + 1
        assert value("vareon_outbox_published_total", service=SERVICE) == 1
        await _sample(app)
        assert value("vareon_outbox_pending", service=SERVICE) == 0
        assert value("vareon_outbox_oldest_pending_age_seconds", service=SERVICE) == 0
    finally:
        await relay._drop_producer()
        await engine.dispose()


async def test_after_commit_counts_commits_only(fixture_db):
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    counted = []
    try:
        async with sessions() as session:
            after_commit(session, lambda: counted.append("rolled back"))
            await session.rollback()
        async with sessions.begin() as session:
            after_commit(session, lambda: counted.append("committed"))
        assert counted == ["committed"]
    finally:
        await engine.dispose()
