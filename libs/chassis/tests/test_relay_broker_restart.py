"""A broker that restarts empty while the relay is sending never swallows an event (issue 23).

The embedded broker keeps topics in memory. A producer whose metadata predates the restart
sends into a topic the new broker never created, and the broker acknowledges the record
without storing it anywhere a consumer can read: the relay marked the row sent and the event
was gone (tests/e2e/test_signup_flow.py's broker-outage test failed on it in full runs)."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from models import outbox_table
from sqlalchemy import select
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.embedded import EmbeddedBroker
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_chassis.testing.event_log import EventLog
from vareon_contracts.events.identity import UserUpdatedV1
from vareon_contracts.topics import IDENTITY_USER

OUTBOX = Outbox(outbox_table, source="/chassis-test")


async def test_a_send_queued_while_the_broker_is_down_reaches_the_restarted_broker(
    fixture_db, tmp_path
):
    broker = EmbeddedBroker(tmp_path / "tansu.log")
    broker.start()
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    relay = OutboxRelay(
        outbox_table,
        sessions,
        lambda: AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap,
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=10_000,
        ),
        database_url=fixture_db,
        service="chassis-test",
    )
    try:
        async with sessions.begin() as s:  # the producer learns the topic's metadata
            await OUTBOX.publish(s, update(uuid.uuid4()))
        assert await relay.relay_batch() == 1
        broker.stop()
        async with sessions.begin() as s:
            await OUTBOX.publish(s, update(uuid.uuid4()))
        sending = asyncio.create_task(relay.relay_batch())
        await asyncio.wait([sending], timeout=0.5)  # the send is queued, the broker away
        broker.start()  # empty: no topic, no offsets
        await asyncio.wait([sending])
        while True:  # as the relay's loop does: retry until nothing is pending
            try:
                if await relay.relay_batch() == 0 and await relay.pending_count() == 0:
                    break
            except Exception:
                await asyncio.sleep(0.2)
        async with sessions() as s:
            last = str(
                await s.scalar(
                    select(outbox_table.c.event_id).order_by(outbox_table.c.id.desc()).limit(1)
                )
            )
        # a bound on the wait for the record (it is there at once when it was stored)
        found = await EventLog(broker.bootstrap).records(
            IDENTITY_USER, lambda r: dict(r.headers)["ce_id"].decode() == last, timeout_s=15
        )
        assert found, "the row is sent, the event lost"
    finally:
        await relay._drop_producer()
        await engine.dispose()
        broker.stop()


def update(user_id: uuid.UUID) -> UserUpdatedV1:
    return UserUpdatedV1(
        user_id=user_id,
        email="u@example.com",
        display_name="u",
        roles=[],
        updated_at=datetime.now(UTC),
    )
