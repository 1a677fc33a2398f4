"""A live consumer applies what its client has fetched as one batch (process_batch): a backlog
takes a few transactions, not one per event, each event once, and the offsets end past it."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from models import effects, inbox_table
from sqlalchemy import func, insert, select
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_chassis.testing.plugin import start_groups_at_end
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1
from vareon_contracts.topics import IDENTITY_USER

BACKLOG = 40


def registered(name: str) -> Envelope:
    payload = UserRegisteredV1(
        user_id=uuid.uuid4(),
        email="ada@example.com",
        display_name=name,
        registered_at=datetime.now(UTC),
    )
    return Envelope.wrap(payload, source="/test")


async def produce(bootstrap: str, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sends = []
        for envelope in envelopes:
            key, value, headers = encode_kafka(envelope)
            sends.append(await producer.send(IDENTITY_USER, value, key=key, headers=headers))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def test_a_backlog_is_applied_in_batches_once_each(fixture_db, infrastructure, event_log):
    consumer = EventConsumer(name=f"chassis-live-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))
    transactions: dict[str, int] = {}

    @consumer.on(UserRegisteredV1)
    async def record(session, payload, envelope):
        transactions[envelope.id] = await session.scalar(select(func.txid_current()))
        await session.execute(
            insert(effects).values(event_id=envelope.id, note=payload.display_name)
        )

    settings = ServiceSettings(
        service_name="chassis-test", database_url=fixture_db, **infrastructure.service_env()
    )
    app = create_service(
        settings, title="test", messaging=Messaging(inbox=inbox_table, consumers=[consumer])
    )
    events = [registered(f"n{i}") for i in range(BACKLOG)]
    await start_groups_at_end(infrastructure.kafka_bootstrap, {consumer.name: consumer.topics})
    # the backlog is on the topic before the consumer starts: its first fetch holds it all
    await produce(infrastructure.kafka_bootstrap, [*events, events[0]])  # and a duplicate
    async with LifespanManager(app):
        ids = {e.id for e in events}  # committed past each one: its effect committed before
        await event_log.consumed(
            consumer.name, IDENTITY_USER, lambda e: e.id in ids, count=BACKLOG + 1
        )
        async with app.state.sessionmaker() as s:
            notes = (
                await s.scalars(
                    select(effects.c.note).where(effects.c.event_id.in_([e.id for e in events]))
                )
            ).all()

    assert sorted(notes) == sorted(f"n{i}" for i in range(BACKLOG)), "each event once"
    assert len(transactions) == BACKLOG
    assert len(set(transactions.values())) <= BACKLOG // 4, "a few transactions, not one each"
