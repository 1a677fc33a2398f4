"""Replay, offset resets, republishing, dead letters and lag on the real broker and database."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from models import effects, inbox_table, outbox_table
from sqlalchemy import delete, func, insert, select, update
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging import deadletters, offsets, replay, status
from vareon_chassis.messaging.consumer import DeadLetter, EventConsumer
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1, UserUpdatedV1
from vareon_contracts.topics import IDENTITY_USER

OUTBOX = Outbox(outbox_table, source="/chassis-test")


@pytest.fixture
async def sessions(fixture_db):
    engine = create_engine(fixture_db)
    yield create_sessionmaker(engine)
    await engine.dispose()


def registered(name):
    return Envelope.wrap(
        UserRegisteredV1(
            user_id=uuid.uuid4(),
            email="r@example.com",
            display_name=name,
            registered_at=datetime.now(UTC),
        ),
        source="/test",
    )


async def produce(bootstrap, envelopes):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            key, value, headers = encode_kafka(envelope)
            await producer.send_and_wait(IDENTITY_USER, value, key=key, headers=headers)
    finally:
        await producer.stop()


def projecting_consumer(marker, fail=None):
    """Records registrations named ``marker...`` in ``effects`` and announces each one."""
    consumer = EventConsumer(name=f"replay-test-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))

    @consumer.on(UserRegisteredV1)
    async def on_registered(session, payload, envelope):
        if not payload.display_name.startswith(marker):
            return
        if fail is not None and fail.get(payload.display_name):
            raise DeadLetter(f"{payload.display_name} is not welcome yet")
        await session.execute(
            insert(effects).values(event_id=envelope.id, note=payload.display_name)
        )
        await OUTBOX.publish(
            session,
            UserUpdatedV1(
                user_id=payload.user_id,
                email=payload.email,
                display_name=payload.display_name,
                roles=[],
                updated_at=datetime.now(UTC),
            ),
        )

    async def reset(session):
        await session.execute(delete(effects))

    consumer.reset = reset
    return consumer


async def projection(sessions):
    async with sessions() as s:
        return sorted((await s.execute(select(effects.c.event_id, effects.c.note))).all())


async def outbox_rows(sessions):
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(outbox_table))


async def test_rebuild_restores_the_read_model_without_announcing_it_again(
    sessions, infrastructure
):
    marker = f"m{uuid.uuid4().hex[:6]}-"
    consumer = projecting_consumer(marker)
    events = [registered(f"{marker}{i}") for i in range(5)]
    await produce(infrastructure.kafka_bootstrap, events)
    bootstrap = infrastructure.kafka_bootstrap

    first = await replay.rebuild(
        consumer, sessionmaker=sessions, inbox=inbox_table, bootstrap=bootstrap, execute=True
    )  # a first "rebuild" of a fresh consumer is its initial build
    assert first.outcomes["applied"] >= 5
    original = await projection(sessions)
    assert len(original) == 5
    assert await outbox_rows(sessions) == 5, "a first build announces what it applied"

    async with sessions.begin() as s:  # break the read model on purpose
        await s.execute(update(effects).values(note="broken"))
    dry = await replay.rebuild(
        consumer, sessionmaker=sessions, inbox=inbox_table, bootstrap=bootstrap
    )
    assert not dry.executed and dry.records >= 5 and dry.inbox_rows >= 5
    assert {n for _, n in await projection(sessions)} == {"broken"}, "a dry run changes nothing"

    again = await replay.rebuild(
        consumer, sessionmaker=sessions, inbox=inbox_table, bootstrap=bootstrap, execute=True
    )
    assert again.outcomes["applied"] == first.outcomes["applied"]
    assert await projection(sessions) == original
    assert await outbox_rows(sessions) == 5, "re-applying what it erased announces nothing"

    caught_up = await replay.rebuild(
        consumer,
        sessionmaker=sessions,
        inbox=inbox_table,
        bootstrap=bootstrap,
        since=datetime.now(UTC) - timedelta(minutes=5),
        execute=True,
    )
    assert caught_up.outcomes["applied"] == 0 and caught_up.outcomes["duplicate"] >= 5


async def test_rebuild_refuses_to_erase_a_read_model_from_empty_topics(sessions, infrastructure):
    consumer = EventConsumer(name=f"replay-empty-{uuid.uuid4().hex[:6]}", topics=("nothing.here",))
    async with sessions.begin() as s:
        await s.execute(
            insert(inbox_table).values(event_id="e1", consumer=consumer.name, event_type="t")
        )
    with pytest.raises(replay.Refused):
        await replay.rebuild(
            consumer,
            sessionmaker=sessions,
            inbox=inbox_table,
            bootstrap=infrastructure.kafka_bootstrap,
            execute=True,
        )


async def test_reset_by_time_never_rewinds_to_the_start_and_refuses_a_live_group(infrastructure):
    bootstrap = infrastructure.kafka_bootstrap
    group = f"reset-test-{uuid.uuid4().hex[:6]}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    await produce(bootstrap, [registered("reset") for _ in range(3)])

    latest = await replay.reset_group(bootstrap, group, (IDENTITY_USER,), to="latest", execute=True)
    ends = {(m.topic, m.partition): m.target for m in latest}
    future = await replay.reset_group(
        bootstrap, group, (IDENTITY_USER,), to=datetime.now(UTC) + timedelta(days=1)
    )
    assert {(m.topic, m.partition): m.target for m in future} == ends, "future -> end, not 0"
    assert all(m.current == ends[(m.topic, m.partition)] for m in future)

    back = await replay.reset_group(bootstrap, group, (IDENTITY_USER,), to=before, execute=True)
    assert sum(ends[(m.topic, m.partition)] - m.target for m in back) >= 3

    member = AIOKafkaConsumer(
        IDENTITY_USER,
        bootstrap_servers=bootstrap,
        group_id=group,
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    await member.start()
    try:
        await member.getmany(timeout_ms=3000)
        with pytest.raises(offsets.GroupActive):
            await replay.reset_group(bootstrap, group, (IDENTITY_USER,), to="earliest")
    finally:
        await member.stop()


async def test_republish_by_key_sends_the_same_events_again(sessions, infrastructure, event_log):
    user, other = uuid.uuid4(), uuid.uuid4()
    async with sessions.begin() as s:
        for who in (user, user, other):
            await OUTBOX.publish(
                s,
                UserUpdatedV1(
                    user_id=who,
                    email="x@example.com",
                    display_name="x",
                    roles=[],
                    updated_at=datetime.now(UTC),
                ),
            )
        await s.execute(update(outbox_table).values(sent_at=func.now()))
    producer = lambda: AIOKafkaProducer(  # noqa: E731
        bootstrap_servers=infrastructure.kafka_bootstrap, acks="all"
    )
    dry = await replay.republish(outbox_table, sessions, producer, key=str(user))
    assert dry.per_topic == {IDENTITY_USER: 2} and not dry.executed
    done = await replay.republish(outbox_table, sessions, producer, key=str(user), execute=True)
    assert sum(done.per_partition.values()) == 2
    events = await event_log.wait_for(IDENTITY_USER, lambda e: e.subject == str(user), count=2)
    assert len({e.id for e in events}) == 2


async def test_dead_letters_are_listed_redriven_once_and_purged(sessions, infrastructure):
    bootstrap = infrastructure.kafka_bootstrap
    marker = f"d{uuid.uuid4().hex[:6]}-"
    fail = {f"{marker}late": True, f"{marker}never": True}
    consumer = projecting_consumer(marker, fail)
    late, never = registered(f"{marker}late"), registered(f"{marker}never")
    await produce(bootstrap, [late, never])
    build = await replay.rebuild(
        consumer, sessionmaker=sessions, inbox=inbox_table, bootstrap=bootstrap, execute=True
    )
    assert build.outcomes["dead-lettered"] >= 2

    pending = await deadletters.scan(bootstrap, consumer=consumer.name)
    assert {m.describe()["event_id"] for m in pending.messages} == {late.id, never.id}
    assert {m.reason for m in pending.messages} == {"rejected"}
    assert "not welcome" in pending.messages[0].describe()["error"]
    assert (await status.consumers_status(bootstrap, [consumer]))[consumer.name][
        "dead_letters"
    ] == 2

    fail[f"{marker}late"] = False  # the cause is fixed for one of them
    report = await deadletters.redrive(
        consumer, sessionmaker=sessions, inbox=inbox_table, bootstrap=bootstrap, execute=True
    )
    assert report.outcomes == {"applied": 1, "dead-lettered": 1}
    assert [n for _, n in await projection(sessions)] == [f"{marker}late"]
    still = await deadletters.scan(bootstrap, consumer=consumer.name)
    assert [m.describe()["event_id"] for m in still.messages] == [never.id]

    assert await deadletters.purge(bootstrap, consumer.name) == 1  # dry run
    assert await deadletters.purge(bootstrap, consumer.name, execute=True) == 1
    assert (await deadletters.scan(bootstrap, consumer=consumer.name)).messages == []
    assert await outbox_rows(sessions) == 1, "a redriven event's effects are announced"


async def test_consumer_lag_counts_what_the_group_has_not_committed(sessions, infrastructure):
    bootstrap = infrastructure.kafka_bootstrap
    consumer = EventConsumer(name=f"lag-test-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))
    await replay.reset_group(bootstrap, consumer.name, consumer.topics, to="latest", execute=True)
    assert await status.consumer_lag(bootstrap, consumer) == 0
    await produce(bootstrap, [registered("lag") for _ in range(4)])
    # At least 4: after a multi-record batch (republished earlier) the embedded broker
    # reports the end one short until the next write.
    assert 4 <= await status.consumer_lag(bootstrap, consumer) <= 5


async def test_the_relay_purges_sent_rows_past_retention_only(sessions, fixture_db):
    async with sessions.begin() as s:
        for n in range(3):
            await OUTBOX.publish(
                s,
                UserUpdatedV1(
                    user_id=uuid.uuid4(),
                    email="p@example.com",
                    display_name=str(n),
                    roles=[],
                    updated_at=datetime.now(UTC),
                ),
            )
        ids = list(await s.scalars(select(outbox_table.c.id).order_by(outbox_table.c.id)))
        old = datetime.now(UTC) - timedelta(days=10)
        await s.execute(update(outbox_table).where(outbox_table.c.id == ids[0]).values(sent_at=old))
        await s.execute(
            update(outbox_table).where(outbox_table.c.id == ids[1]).values(sent_at=func.now())
        )
    relay = OutboxRelay(
        outbox_table,
        sessions,
        lambda: None,
        database_url=fixture_db,
        service="chassis-test",
        retention_days=7,
    )
    assert await relay.purge_sent() == 1
    async with sessions() as s:
        assert (
            list(await s.scalars(select(outbox_table.c.id).order_by(outbox_table.c.id))) == ids[1:]
        )
    assert await relay.oldest_pending_age_s() is not None
    await asyncio.sleep(0)


async def test_a_catch_up_rebuild_announces_what_was_never_applied(sessions, infrastructure):
    """Issue 15 item 12 (suppress only what the rebuild erased): 5 events never applied,
    ``rebuild --since`` applies them and stages their 5 outgoing events."""
    marker = f"c{uuid.uuid4().hex[:6]}-"
    consumer = projecting_consumer(marker)
    since = datetime.now(UTC) - timedelta(seconds=1)
    await produce(infrastructure.kafka_bootstrap, [registered(f"{marker}{i}") for i in range(5)])
    report = await replay.rebuild(
        consumer,
        sessionmaker=sessions,
        inbox=inbox_table,
        bootstrap=infrastructure.kafka_bootstrap,
        since=since,
        execute=True,
    )
    assert report.outcomes["applied"] >= 5
    assert len(await projection(sessions)) == 5
    assert await outbox_rows(sessions) == 5, "their effects were never announced"


async def test_a_full_rebuild_refuses_when_retention_deleted_applied_events(
    sessions, infrastructure
):
    """Issue 15 item 13 (rebuild after retention): the topics no longer hold every event the
    inbox says was applied (retention deleted the early records: a beginning offset past 0,
    or fewer records than applied events): a full rebuild refuses instead of erasing.

    The embedded broker cannot delete records, so the inbox is given applied events the topic
    never had: what it looks like after retention took the first ones."""
    bootstrap = infrastructure.kafka_bootstrap
    topic = f"retention-test-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(name=f"replay-retention-{uuid.uuid4().hex[:6]}", topics=(topic,))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in [registered("kept") for _ in range(2)]:
            key, value, headers = encode_kafka(envelope)
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    async with sessions.begin() as s:
        for n in range(3):
            await s.execute(
                insert(inbox_table).values(
                    event_id=f"gone-{n}", consumer=consumer.name, event_type="t"
                )
            )
    with pytest.raises(replay.Refused):
        await replay.rebuild(
            consumer, sessionmaker=sessions, inbox=inbox_table, bootstrap=bootstrap, execute=True
        )
    async with sessions() as s:
        kept = await s.scalar(
            select(func.count())
            .select_from(inbox_table)
            .where(inbox_table.c.consumer == consumer.name)
        )
    assert kept == 3, "the inbox (and the read model) are kept"
