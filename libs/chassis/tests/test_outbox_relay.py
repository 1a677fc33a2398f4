"""The outbox relay publishes every committed row, in per-key order, and marks it sent."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from models import outbox_table
from sqlalchemy import func, select, text
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_contracts.events.identity import UserUpdatedV1

OUTBOX = Outbox(outbox_table, source="/chassis-test")


def producer_for(infrastructure):
    return lambda: AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, acks="all", request_timeout_ms=1500
    )


def update(user_id, n):
    return UserUpdatedV1(
        user_id=user_id,
        email=f"u{n}@example.com",
        display_name=f"v{n}",
        roles=[],
        updated_at=datetime.now(UTC),
    )


async def lock_wait_or(task, engine, timeout_s=60.0):
    """Until a session of this database waits on a lock, or ``task`` finished (no wait)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not task.done():
        async with engine.connect() as conn:
            if await conn.scalar(query):
                return
        assert asyncio.get_running_loop().time() < deadline, "neither waited nor finished"
        await asyncio.sleep(0.02)


async def test_overlapping_transactions_keep_per_key_order_and_lose_nothing(
    fixture_db, infrastructure, event_log
):
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    relay = OutboxRelay(
        outbox_table,
        sessions,
        producer_for(infrastructure),
        database_url=fixture_db,
        service="chassis-test",
        batch_size=2,
    )
    user, other = uuid.uuid4(), uuid.uuid4()
    try:
        first = sessions()
        await first.begin()
        await OUTBOX.publish(first, update(user, 1))  # takes the lower id, commits last

        async def second_for_same_key():
            async with sessions.begin() as s:
                await OUTBOX.publish(s, update(user, 2))

        blocked = asyncio.create_task(second_for_same_key())

        async with sessions.begin() as s:  # a later id that commits first
            await OUTBOX.publish(s, update(other, 1))
        assert await relay.relay_batch() == 1  # only the committed row is sent
        await lock_wait_or(blocked, engine)  # seen waiting on the first's lock, not "0.3 s later"
        assert not blocked.done(), "same-key transaction must wait for the first to commit"

        await first.commit()
        await first.close()
        await blocked
        while await relay.relay_batch():
            pass

        events = await event_log.wait_for(
            "vareon.identity.user", lambda e: e.subject in (str(user), str(other)), count=3
        )
        mine = [e.data["display_name"] for e in events if e.subject == str(user)]
        assert mine == ["v1", "v2"]
        async with sessions() as s:
            pending = await s.scalar(
                select(func.count())
                .select_from(outbox_table)
                .where(outbox_table.c.sent_at.is_(None))
            )
        assert pending == 0
    finally:
        await relay._drop_producer()
        await engine.dispose()


async def test_rows_stay_pending_while_the_broker_is_away(fixture_db, infrastructure, event_log):
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    relay = OutboxRelay(
        outbox_table,
        sessions,
        producer_for(infrastructure),
        database_url=fixture_db,
        service="chassis-test",
    )
    user = uuid.uuid4()
    try:
        async with sessions.begin() as s:
            await OUTBOX.publish(s, update(user, 1))
        infrastructure.stop_broker()
        try:
            try:
                await relay.relay_batch()
                raise AssertionError("publishing without a broker must fail")
            except Exception as exc:
                assert not isinstance(exc, AssertionError), exc
            assert await relay.pending_count() == 1
        finally:
            infrastructure.start_broker()
        runner = asyncio.create_task(relay.run())
        try:
            events = await event_log.wait_for(
                "vareon.identity.user", lambda e: e.subject == str(user), timeout_s=30
            )
            assert len(events) == 1
            for _ in range(50):
                if await relay.pending_count() == 0:
                    break
                await asyncio.sleep(0.1)
            assert await relay.pending_count() == 0
        finally:
            runner.cancel()
    finally:
        await relay._drop_producer()
        await engine.dispose()
