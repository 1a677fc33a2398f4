"""5,000 events applied live by a consumer, then replayed through the inbox: the same state."""

import asyncio
import importlib.util
import uuid
from collections import Counter
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, insert, select, text
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging import offsets
from vareon_chassis.messaging.broker import ensure_topics
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer, EventHandler
from vareon_chassis.testing.plugin import assert_rebuild_matches
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1

from .conftest import FIXTURE_SERVICE

EVENTS = 5_000
spec = importlib.util.spec_from_file_location("fault_fixture_models", FIXTURE_SERVICE / "models.py")
assert spec is not None and spec.loader is not None
fixture = importlib.util.module_from_spec(spec)  # outbox, inbox and an `effects` table
spec.loader.exec_module(fixture)


def recording_consumer(topic: str) -> EventConsumer:
    """Each registration becomes one `effects` row: the read model under test."""
    consumer = EventConsumer(name=f"faults-volume-{uuid.uuid4().hex[:6]}", topics=(topic,))

    async def record(session, payload, envelope):
        await session.execute(
            insert(fixture.effects).values(event_id=envelope.id, note=payload.display_name)
        )

    async def reset(session):
        await session.execute(fixture.effects.delete())

    # a dedicated topic (exactly these events); the type's own topic is identity's
    consumer.handlers[UserRegisteredV1.event_type] = EventHandler(UserRegisteredV1, record)
    consumer.reset = reset
    return consumer


async def test_thousands_of_events_replayed_give_the_state_built_live(infrastructure):
    bootstrap = infrastructure.kafka_bootstrap
    topic = f"faults.volume.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], partitions=3)
    users = [uuid.uuid4() for _ in range(50)]
    events = [
        Envelope.wrap(
            UserRegisteredV1(
                user_id=users[i % len(users)],
                email=f"v{i}@example.com",
                display_name=f"n{i}",
                registered_at=datetime.now(UTC),
            ),
            source="/identity",
        )
        for i in range(EVENTS)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        sends = []
        for envelope in events:
            key, value, headers = encode_kafka(envelope)
            sends.append(await producer.send(topic, value, key=key, headers=headers))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    database_url = await infrastructure.migrated_database(
        "chassis", FIXTURE_SERVICE / "alembic.ini"
    )
    # Not under test here, and 0.7 ms of each event's ~3 ms: the WAL flush at commit.
    engine = create_engine(database_url, pool_size=4, max_overflow=0)
    async with engine.connect() as conn:
        name = await conn.scalar(text("SELECT current_database()"))
        await conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        await conn.commit()
    await engine.dispose()
    sessions = create_sessionmaker(engine)
    consumer = recording_consumer(topic)
    dead_letters = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await dead_letters.start()
    try:  # live: one runtime per partition at once, as three group members would
        runtime = ConsumerRuntime(consumer, sessions, fixture.inbox_table, dead_letters)
        async with offsets.reader(bootstrap) as kafka:
            spans = await offsets.spans(kafka, [topic])
        outcomes = await asyncio.gather(*(apply_live(bootstrap, runtime, s) for s in spans))
        assert sum(outcomes, Counter()) == Counter(applied=EVENTS), outcomes
    finally:
        await dead_letters.stop()
    try:
        rows = await count(sessions, fixture.effects)
        distinct = await count(sessions, fixture.effects, fixture.effects.c.event_id.distinct())
        assert rows == distinct == EVENTS, "each event applied exactly once live"

        (report,) = await assert_rebuild_matches(
            [consumer],
            sessionmaker=sessions,
            inbox=fixture.inbox_table,
            bootstrap=bootstrap,
            projection=select(fixture.effects.c.event_id, fixture.effects.c.note).order_by(
                fixture.effects.c.event_id
            ),
        )
        assert report.outcomes["applied"] == EVENTS, report.outcomes
    finally:
        await engine.dispose()


async def count(sessions, table, column=None) -> int:
    async with sessions() as session:
        what = func.count() if column is None else func.count(column)
        return int(await session.scalar(select(what).select_from(table)) or 0)


async def apply_live(bootstrap, runtime, span) -> Counter:
    outcomes: Counter[str] = Counter()
    async with offsets.reader(bootstrap) as kafka:
        async for record in offsets.read_spans(kafka, [span]):
            outcomes[await runtime.process(record)] += 1
    return outcomes
