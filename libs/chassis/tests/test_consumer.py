"""Consumers through a real service app: inbox dedupes, bad messages dead-letter, nothing stalls."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from models import effects, inbox_table
from sqlalchemy import insert, select
from vareon_chassis.messaging.consumer import DeadLetter, EventConsumer
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_chassis.testing.plugin import start_groups_at_end
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1, UserVerifiedV1
from vareon_contracts.topics import IDENTITY_USER, dead_letter_topic


def registered(user_id, name="Ada"):
    return Envelope.wrap(
        UserRegisteredV1(
            user_id=user_id,
            email="ada@example.com",
            display_name=name,
            registered_at=datetime.now(UTC),
        ),
        source="/test",
    )


async def produce(bootstrap, *records):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(IDENTITY_USER, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def wait_for_rows(app, event_ids, timeout_s=60):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        async with app.state.sessionmaker() as s:
            rows = (
                await s.execute(
                    select(effects.c.event_id, effects.c.note).where(
                        effects.c.event_id.in_(event_ids)
                    )
                )
            ).all()
        if (
            len({r.event_id for r in rows}) == len(event_ids)
            or asyncio.get_running_loop().time() > deadline
        ):
            return rows
        await asyncio.sleep(0.1)


async def test_duplicates_apply_once_and_poison_messages_dead_letter(
    fixture_db, infrastructure, event_log
):
    consumer = EventConsumer(name=f"chassis-test-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))
    attempts: dict[str, int] = {}

    @consumer.on(UserRegisteredV1)
    async def record(session, payload, envelope):
        attempts[envelope.id] = attempts.get(envelope.id, 0) + 1
        if payload.display_name == "flaky" and attempts[envelope.id] == 1:
            raise RuntimeError("transient")
        if payload.display_name == "never":
            raise DeadLetter("this user can never be processed")
        await session.execute(
            insert(effects).values(event_id=envelope.id, note=payload.display_name)
        )

    settings = ServiceSettings(
        service_name="chassis-test", database_url=fixture_db, **infrastructure.service_env()
    )
    app = create_service(
        settings, title="test", messaging=Messaging(inbox=inbox_table, consumers=[consumer])
    )

    good, flaky, never = (
        registered(uuid.uuid4()),
        registered(uuid.uuid4(), "flaky"),
        registered(uuid.uuid4(), "never"),
    )
    future = Envelope(
        source="/test",
        type="vareon.identity.user.registered.v9",
        subject=good.subject,
        data={"user_id": good.subject},
    )
    ignored = Envelope.wrap(
        UserVerifiedV1(user_id=uuid.uuid4(), email="x@example.com", verified_at=datetime.now(UTC)),
        source="/test",
    )
    garbage = (good.subject.encode(), b"{not json", [("ce_specversion", b"1.0")])
    # a new group starts at the topic's end, not behind every earlier test's sign-ups
    await start_groups_at_end(infrastructure.kafka_bootstrap, {consumer.name: consumer.topics})
    async with LifespanManager(app):
        await produce(
            infrastructure.kafka_bootstrap,
            encode_kafka(good),
            encode_kafka(good),
            encode_kafka(future),
            garbage,
            encode_kafka(ignored),
            encode_kafka(flaky),
            encode_kafka(never),
            encode_kafka(good),
        )
        rows = await wait_for_rows(app, [good.id, flaky.id])
        # past the third copy of good (same key as future and garbage): all of them handled
        await event_log.consumed(consumer.name, IDENTITY_USER, lambda e: e.id == good.id, count=3)

    assert sorted(r.note for r in rows) == ["Ada", "flaky"], "each event applied exactly once"
    assert attempts[good.id] == 1 and attempts[flaky.id] == 2
    async with app.state.sessionmaker() as s:
        seen = set((await s.scalars(select(inbox_table.c.event_id))).all())
    assert {good.id, flaky.id} <= seen and never.id not in seen

    dead = await event_log.records(
        dead_letter_topic(IDENTITY_USER),
        lambda r: dict(r.headers).get("dlq_consumer") == consumer.name.encode(),
        count=3,
    )
    reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in dead)
    assert reasons == ["malformed", "rejected", "unknown-type"]
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq_topic"] == IDENTITY_USER.encode()
        assert int(headers["dlq_offset"]) >= 0 and headers["dlq_error"]
