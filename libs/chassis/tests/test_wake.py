"""Fetch wake-ups (messaging.wake): a paused consumer is woken by the relay's announcement,
and without one it still fetches on its slow fallback."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from models import effects, inbox_table, outbox_table
from sqlalchemy import insert, select
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_chassis.testing.plugin import start_groups_at_end
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1
from vareon_contracts.topics import IDENTITY_USER


def registered() -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=uuid.uuid4(),
        email="ada@example.com",
        display_name="Ada",
        registered_at=datetime.now(UTC),
    )


async def paced_app(fixture_db, infrastructure, tmp_path, idle_fetch_s):
    consumer = EventConsumer(name=f"chassis-wake-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))

    @consumer.on(UserRegisteredV1)
    async def record(session, payload, envelope):
        await session.execute(insert(effects).values(event_id=envelope.id, note="woken"))

    settings = ServiceSettings(
        service_name="chassis-test",
        database_url=fixture_db,
        kafka_wake_dir=str(tmp_path / "wake"),
        kafka_idle_fetch_s=idle_fetch_s,
        **infrastructure.service_env(),
    )
    await start_groups_at_end(infrastructure.kafka_bootstrap, {consumer.name: consumer.topics})
    outbox = Outbox(outbox_table, "/test")
    app = create_service(
        settings,
        title="test",
        messaging=Messaging(outbox=outbox, inbox=inbox_table, consumers=[consumer]),
    )
    return app, outbox


async def until_paused(app):
    """The consumer holds its partitions and has paused them all (no fetch in flight)."""
    while True:
        broker = getattr(app.state, "broker", None)
        kafka = broker.subscribers[0].consumer if broker and broker.subscribers else None
        held = kafka.assignment() if kafka is not None else set()
        if held and kafka.paused() >= held:
            return
        await asyncio.sleep(0.02)


async def effect_of(app, event_id):
    while True:
        async with app.state.sessionmaker() as s:
            if await s.scalar(select(effects.c.note).where(effects.c.event_id == event_id)):
                return
        await asyncio.sleep(0.05)


async def test_the_relays_announcement_wakes_a_paused_consumer(
    fixture_db, infrastructure, tmp_path
):
    # no fallback fetch within the test: only the wake-up can bring the event in
    app, outbox = await paced_app(fixture_db, infrastructure, tmp_path, idle_fetch_s=3600.0)
    async with LifespanManager(app):
        await asyncio.wait_for(until_paused(app), 60)
        async with app.state.sessionmaker.begin() as session:
            envelope = await outbox.publish(session, registered())
        await asyncio.wait_for(effect_of(app, envelope.id), 60)


async def test_a_paused_consumer_fetches_what_nobody_announced(
    fixture_db, infrastructure, tmp_path
):
    app, _ = await paced_app(fixture_db, infrastructure, tmp_path, idle_fetch_s=0.2)
    envelope = Envelope.wrap(registered(), source="/test")
    async with LifespanManager(app):
        await asyncio.wait_for(until_paused(app), 60)
        producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            key, value, headers = encode_kafka(envelope)
            await producer.send_and_wait(IDENTITY_USER, value, key=key, headers=headers)
        finally:
            await producer.stop()
        await asyncio.wait_for(effect_of(app, envelope.id), 60)


async def test_a_paced_revocation_follower_is_woken_by_the_announcement(
    fixture_db, infrastructure, tmp_path
):
    """On the embedded platform the follower pauses like a consumer (no fetch every quarter
    second) and a relay's announcement of the session topic brings the revocation in."""
    from fastapi import FastAPI
    from vareon_chassis.messaging.wake import announce
    from vareon_chassis.revocations import follow_revocations
    from vareon_contracts.events.identity import SessionsRevokedV1
    from vareon_contracts.topics import IDENTITY_SESSION

    wake_dir = tmp_path / "wake"
    app = FastAPI()
    app.state.settings = ServiceSettings(
        service_name="chassis-test",
        database_url=fixture_db,
        kafka_wake_dir=str(wake_dir),
        kafka_idle_fetch_s=3600.0,
        **infrastructure.service_env(),
    )
    follower = asyncio.create_task(follow_revocations(app))
    try:

        async def listening() -> None:
            while True:
                if any(wake_dir.glob("*.sock")):
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(listening(), 60)
        sid = uuid.uuid4()
        revoked = SessionsRevokedV1(
            user_id=uuid.uuid4(), session_ids=[sid], reason="logout", revoked_at=datetime.now(UTC)
        )
        producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            key, value, headers = encode_kafka(Envelope.wrap(revoked, source="/test"))
            await producer.send_and_wait(IDENTITY_SESSION, value, key=key, headers=headers)
        finally:
            await producer.stop()
        announce(str(wake_dir), [IDENTITY_SESSION])

        async def known() -> None:
            while True:
                if sid in app.state.revoked_sessions:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(known(), 60)
        assert not follower.done()
    finally:
        follower.cancel()
        await asyncio.wait([follower], timeout=10)
