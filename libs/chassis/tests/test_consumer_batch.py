"""ConsumerRuntime.process_batch: one transaction for many events, each applied exactly once;
a failing event does not undo its neighbours and still gets its retries and dead letter."""

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from models import effects, inbox_table
from sqlalchemy import insert, select
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.consumer import ConsumerRuntime, DeadLetter, EventConsumer
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1
from vareon_contracts.topics import IDENTITY_USER


def record(envelope: Envelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    key, value, headers = encode_kafka(envelope)
    return ConsumerRecord(
        IDENTITY_USER, 0, offset, 0, 0, key, value, None, len(key or b""), len(value), headers
    )


def registered(name: str) -> Envelope:
    payload = UserRegisteredV1(
        user_id=uuid.uuid4(),
        email="ada@example.com",
        display_name=name,
        registered_at=datetime.now(UTC),
    )
    return Envelope.wrap(payload, source="/test")


async def test_a_batch_applies_each_event_once_and_isolates_failures(fixture_db, infrastructure):
    consumer = EventConsumer(name=f"chassis-batch-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))
    attempts: dict[str, int] = {}

    @consumer.on(UserRegisteredV1)
    async def apply(session, payload, envelope):
        attempts[envelope.id] = attempts.get(envelope.id, 0) + 1
        await session.execute(
            insert(effects).values(event_id=envelope.id, note=payload.display_name)
        )
        if payload.display_name == "flaky" and attempts[envelope.id] == 1:
            raise RuntimeError("transient, after its effect was written")
        if payload.display_name == "never":
            raise DeadLetter("never")

    engine = create_engine(fixture_db)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        runtime = ConsumerRuntime(
            consumer, create_sessionmaker(engine), inbox_table, producer, backoff_s=0.01
        )
        a, flaky, never, b = (
            registered("a"),
            registered("flaky"),
            registered("never"),
            registered("b"),
        )
        garbage = ConsumerRecord(IDENTITY_USER, 0, 9, 0, 0, b"k", b"{no", None, 1, 3, [])
        batch = [record(a, 0), record(a, 1), record(flaky, 2), record(never, 3), garbage]
        outcomes = await runtime.process_batch([*batch, record(b, 5), record(b, 6)])
        again = await runtime.process_batch([record(a, 7), record(flaky, 8), record(b, 9)])
        async with create_sessionmaker(engine)() as session:
            notes = sorted((await session.scalars(select(effects.c.note))).all())
    finally:
        await producer.stop()
        await engine.dispose()

    assert outcomes == [
        "applied",
        "duplicate",
        "applied",  # alone after its failure in the batch, its neighbours kept
        "dead-lettered",
        "dead-lettered",  # malformed
        "applied",
        "duplicate",
    ]
    assert again == ["duplicate", "duplicate", "duplicate"]
    assert notes == ["a", "b", "flaky"], "each effect exactly once; the dead letter's undone"
    assert attempts[flaky.id] == 2
