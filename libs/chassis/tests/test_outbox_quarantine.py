"""A poison outbox row is quarantined; later rows flow, the same key waits behind it."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from models import outbox_table
from sqlalchemy import insert, select
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging import replay, status
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_contracts.events.identity import UserUpdatedV1
from vareon_contracts.topics import IDENTITY_USER

OUTBOX = Outbox(outbox_table, source="/chassis-test")


def update(user_id, n):
    return UserUpdatedV1(
        user_id=user_id,
        email=f"u{n}@example.com",
        display_name=f"v{n}",
        roles=[],
        updated_at=datetime.now(UTC),
    )


async def test_a_poison_row_is_quarantined_and_later_rows_flow(
    fixture_db, infrastructure, event_log
):
    """Issue 15 item 11 (a poison row must not stop the outbox): a row larger than the
    producer's max_request_size is quarantined (marked, counted in status); other keys' later
    rows are published, the same key's later rows wait behind it until it is dropped."""
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    relay = OutboxRelay(
        outbox_table,
        sessions,
        lambda: AIOKafkaProducer(
            bootstrap_servers=infrastructure.kafka_bootstrap, acks="all", request_timeout_ms=3000
        ),
        database_url=fixture_db,
        service="chassis-test",
    )
    a, b = uuid.uuid4(), uuid.uuid4()
    try:
        async with sessions.begin() as s:
            first = await OUTBOX.publish(s, update(a, 1))
            poison = await s.scalar(
                insert(outbox_table)
                .values(
                    event_id=uuid.uuid4(),
                    topic=IDENTITY_USER,
                    key=str(a),
                    event_type=UserUpdatedV1.event_type,
                    headers={"ce_specversion": "1.0", "ce_id": "poison"},
                    payload={"blob": "x" * 1_200_000},  # past the 1 MiB max_request_size
                )
                .returning(outbox_table.c.id)
            )
            behind = await OUTBOX.publish(s, update(a, 2))
            other = await OUTBOX.publish(s, update(b, 1))
        loop = asyncio.get_running_loop()
        deadline, errors = loop.time() + 30, []
        while loop.time() < deadline:  # the relay keeps trying until the poison is set aside
            try:
                await relay.relay_batch()
            except Exception as exc:  # before the fix: the poison row fails every batch
                errors.append(repr(exc))
            if await relay.quarantined_count() and await relay.pending_count() == 2:
                break
            await asyncio.sleep(0.1)
        events = await event_log.all(IDENTITY_USER, lambda e: e.subject in (str(a), str(b)))
        assert {e.id for e in events} == {first.id, other.id}
        async with sessions() as s:
            rows = {
                r.id: r
                for r in await s.execute(
                    select(
                        outbox_table.c.id,
                        outbox_table.c.event_id,
                        outbox_table.c.sent_at,
                        outbox_table.c.quarantined_at,
                        outbox_table.c.quarantine_reason,
                    )
                )
            }
        assert rows[poison].quarantined_at is not None, errors[-3:]
        assert rows[poison].sent_at is None
        assert "MessageSizeTooLarge" in rows[poison].quarantine_reason
        waiting = [r for r in rows.values() if str(r.event_id) == behind.id]
        assert waiting[0].sent_at is None, "the same key waits behind the poison row"
        assert (await status.outbox_status(relay))["quarantined"] == 1

        listed = await replay.quarantined(outbox_table, sessions)
        assert [r.id for r in listed] == [poison]
        assert await replay.release(outbox_table, sessions, [poison], drop=True) == 1  # dry
        assert await replay.release(outbox_table, sessions, [poison], drop=True, execute=True)
        assert await relay.relay_batch() == 1
        await event_log.wait_for(IDENTITY_USER, lambda e: e.id == behind.id)
        assert (await status.outbox_status(relay))["quarantined"] == 0
    finally:
        await relay._drop_producer()
        await engine.dispose()
