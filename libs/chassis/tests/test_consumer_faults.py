"""Consumers under faults (issue 15): outages, undecodable records, dead-letter counts."""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from models import effects, inbox_table
from sqlalchemy import insert, select
from vareon_chassis.messaging import deadletters, offsets
from vareon_chassis.messaging.consumer import DeadLetter, EventConsumer, EventHandler
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserUpdatedV1
from vareon_contracts.topics import IDENTITY_USER


def updated(user_id, name):
    return Envelope.wrap(
        UserUpdatedV1(
            user_id=user_id,
            email="u@example.com",
            display_name=name,
            roles=[],
            updated_at=datetime.now(UTC),
        ),
        source="/test",
    )


def recording_consumer(prefix, topic=IDENTITY_USER):
    """Writes ``display_name`` of every update to ``effects``; names ``dead...`` are rejected."""
    consumer = EventConsumer(name=f"{prefix}-{uuid.uuid4().hex[:6]}", topics=(topic,))

    async def record(session, payload, envelope):
        if payload.display_name.startswith("dead"):
            raise DeadLetter("rejected on purpose")
        await session.execute(
            insert(effects).values(event_id=envelope.id, note=payload.display_name)
        )

    consumer.handlers[UserUpdatedV1.event_type] = EventHandler(UserUpdatedV1, record)
    return consumer


def service(fixture_db, infrastructure, consumer, **overrides):
    settings = ServiceSettings(
        service_name="chassis-test",
        database_url=fixture_db,
        **{**infrastructure.service_env(), **overrides},
    )
    return create_service(
        settings, title="test", messaging=Messaging(inbox=inbox_table, consumers=[consumer])
    )


async def produce(bootstrap, records, topic=IDENTITY_USER):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def applied(app, event_ids, timeout_s=60.0, some=None):
    """Notes of ``event_ids`` in application order, once all (or ``some``) are applied."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            async with app.state.sessionmaker() as s:
                rows = (
                    await s.execute(
                        select(effects.c.event_id, effects.c.note)
                        .where(effects.c.event_id.in_(event_ids))
                        .order_by(effects.c.id)
                    )
                ).all()
            if len(rows) >= (len(event_ids) if some is None else some):
                return rows
        except Exception:  # the database may still be coming back
            rows = []
        if loop.time() > deadline:
            raise TimeoutError(f"{len(rows)}/{len(event_ids)} applied")
        await asyncio.sleep(0.1)


async def ready_body(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return (await client.get("/health/ready")).json()


async def pending_dead_letters(bootstrap, consumer, event_ids=None):
    """Dead letters of ``consumer`` (only of ``event_ids``: the topic also holds other tests'
    poison, which a consumer reading from the start dead-letters too)."""
    found = await deadletters.scan(bootstrap, consumer=consumer.name, topics=consumer.topics)
    ids = None if event_ids is None else set(event_ids)
    return sum(1 for m in found.messages if ids is None or m.describe()["event_id"] in ids)


async def test_an_outage_is_not_a_poison_message(fixture_db, infrastructure):
    """Issue 15 item 6 (outage != poison): PostgreSQL stops while 20 events arrive; after it
    returns none is dead-lettered and all 20 are applied, in order per key."""
    bootstrap = infrastructure.kafka_bootstrap
    consumer = recording_consumer("outage")
    app = service(fixture_db, infrastructure, consumer, consumer_max_attempts=3)
    warm = updated(uuid.uuid4(), "warm-up")
    keys = [uuid.uuid4() for _ in range(4)]
    events = [updated(key, f"{key}:{n}") for n in range(5) for key in keys]
    ids = [e.id for e in events]
    async with LifespanManager(app):
        await produce(bootstrap, [encode_kafka(warm)])
        await applied(app, [warm.id])  # joined and consuming
        await asyncio.to_thread(infrastructure.stop_postgres)
        try:
            await produce(bootstrap, [encode_kafka(e) for e in events])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while loop.time() < deadline:  # until it has retried past the handler-failure limit
                if await pending_dead_letters(bootstrap, consumer, ids):
                    break
                state = (await ready_body(app)).get("messaging", {}).get("consumers", {})
                outage = state.get(consumer.name, {}).get("outage") or {}
                if outage.get("retries", 0) > 3:  # past max_attempts
                    break
                await asyncio.sleep(0.2)
        finally:
            await asyncio.to_thread(infrastructure.start_postgres)
        while True:  # every event either applied or dead-lettered
            dead = await pending_dead_letters(bootstrap, consumer, ids)
            with contextlib.suppress(TimeoutError):
                rows = await applied(app, [e.id for e in events], timeout_s=0, some=20 - dead)
                break
        assert dead == 0, f"{dead} events dead-lettered by the outage"
        assert len(rows) == 20
        for key in keys:
            assert [n for _, n in rows if n.startswith(str(key))] == [
                f"{key}:{n}" for n in range(5)
            ]
        assert (await ready_body(app))["messaging"]["consumers"][consumer.name].get(
            "outage"
        ) is None


async def test_an_undecodable_json_record_is_dead_lettered_not_skipped(fixture_db, infrastructure):
    """Issue 15 item 7 (no record skipped without a dead letter): content-type JSON with an
    invalid body, then a good record on the same partition."""
    bootstrap = infrastructure.kafka_bootstrap
    topic = f"undecodable-{uuid.uuid4().hex[:6]}"  # no other test's consumer reads it
    consumer = recording_consumer("undecodable", topic)
    app = service(fixture_db, infrastructure, consumer)
    good = updated(uuid.uuid4(), "good")
    key, value, headers = encode_kafka(good)
    broken = (key, b"{not json", [*headers, ("content-type", b"application/json")])
    async with LifespanManager(app):
        await produce(bootstrap, [broken, (key, value, headers)], topic)
        await applied(app, [good.id])
    # the dead letter is written before the next record of the partition is processed
    found = await deadletters.scan(bootstrap, consumer=consumer.name, topics=consumer.topics)
    assert [m.reason for m in found.messages] == ["malformed"]


async def measured_dead_letters(app, consumer, after):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        body = await ready_body(app)
        messaging = body.get("messaging", {})
        if messaging.get("measured_at", 0) > after and "consumers" in messaging:
            return messaging["consumers"][consumer.name]["dead_letters"]
        if loop.time() > deadline:
            raise TimeoutError(f"no fresh messaging status: {body}")
        await asyncio.sleep(0.2)


async def test_status_counts_what_the_dead_letter_topic_holds(fixture_db, infrastructure):
    """Issue 15 item 8 (status tells the truth about dead letters): N dead letters of a live
    consumer are N in readiness, and still N after the service restarts."""
    bootstrap = infrastructure.kafka_bootstrap
    # A topic of its own: on a shared one, other tests' poison on other partitions is still
    # being dead-lettered after this test's marker (one partition) was applied.
    topic = f"dlq-count-{uuid.uuid4().hex[:6]}"
    consumer = recording_consumer("dlq-count", topic)
    user = uuid.uuid4()  # one key: one partition, in order
    dead = [updated(user, f"dead-{n}") for n in range(3)]
    marker = updated(user, "marker")
    async with LifespanManager(app := service(fixture_db, infrastructure, consumer)):
        await produce(bootstrap, [encode_kafka(e) for e in [*dead, marker]], topic)
        await applied(app, [marker.id])
        now = datetime.now(UTC).timestamp()
        held = await pending_dead_letters(bootstrap, consumer)
        assert held == 3
        assert await measured_dead_letters(app, consumer, now) == held
    async with LifespanManager(app := service(fixture_db, infrastructure, consumer)):
        assert await measured_dead_letters(app, consumer, now) == held


async def test_lag_is_measured_for_the_real_consumer_group(fixture_db, infrastructure):
    """Issue 15 item 14 (the real group id): with ``consumer_group_prefix`` the lag report
    reads the group the consumer commits in (prefix + name), so a caught-up consumer lags 0."""
    bootstrap = infrastructure.kafka_bootstrap
    consumer = recording_consumer("lag-prefix")
    prefix = f"p{uuid.uuid4().hex[:6]}-"
    marker = updated(uuid.uuid4(), "marker")
    app = service(fixture_db, infrastructure, consumer, consumer_group_prefix=prefix)
    async with LifespanManager(app):
        await produce(bootstrap, [encode_kafka(marker)])
        await applied(app, [marker.id])
        loop = asyncio.get_running_loop()
        deadline, lag = loop.time() + 20, None
        while loop.time() < deadline:  # the offset commit follows the effect's commit
            after = datetime.now(UTC).timestamp()
            consumers = (await ready_body(app)).get("messaging", {}).get("consumers", {})
            lag = consumers.get(consumer.name, {}).get("lag")
            if lag == 0 and (await ready_body(app))["messaging"]["measured_at"] > after - 5:
                break
            await asyncio.sleep(0.2)
        assert lag == 0, f"lag {lag} for a consumer that consumed everything"


async def test_replay_commands_use_the_real_consumer_group(fixture_db, infrastructure, monkeypatch):
    """Issue 15 item 14 (the real group id): with ``consumer_group_prefix`` set, rebuild and
    reset-offsets see the live member of prefix + name and refuse."""
    import app as fixture_app
    from vareon_chassis.messaging.commands import run_replay

    for name, value in {
        "VAREON_DATABASE_URL": fixture_db,
        "VAREON_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "VAREON_CONSUMER_GROUP_PREFIX": f"p{uuid.uuid4().hex[:6]}-",
        "VAREON_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "VAREON_KAFKA_HEARTBEAT_INTERVAL_MS": "600",
    }.items():
        monkeypatch.setenv(name, value)
    marker = updated(uuid.uuid4(), "marker")
    async with LifespanManager(live := fixture_app.create_app()):
        await produce(infrastructure.kafka_bootstrap, [encode_kafka(marker)])
        await applied(live, [marker.id])  # a member of the prefixed group
        common = ["--service", "app:create_app", "--consumer", "fixture.users", "--execute"]
        reset = await asyncio.to_thread(run_replay, ["reset-offsets", *common, "--to", "latest"])
        rebuild = await asyncio.to_thread(run_replay, ["rebuild", *common])
        async with live.state.sessionmaker() as s:
            kept = list(await s.scalars(select(effects.c.event_id)))
    assert (reset, rebuild) == (1, 1), "refused while the consumer runs"
    assert marker.id in kept, "the read model was not erased under a live consumer"


async def test_an_unwritable_dead_letter_topic_keeps_the_member_and_the_offset(
    fixture_db, infrastructure
):
    """Issue 15 item 9 (unwritable DLQ): a dead letter that cannot be written (its topic name
    is one the broker refuses) neither gets the member evicted past its max poll interval nor
    moves the offset; the consumer reports the outage meanwhile."""
    bootstrap = infrastructure.kafka_bootstrap
    topic = f"t{uuid.uuid4().hex[:6]}".ljust(247, "x")  # + ".dlq" is past Kafka's 249
    consumer = recording_consumer("dlq-down", topic)
    poll_ms = 1500
    app = service(fixture_db, infrastructure, consumer, kafka_max_poll_interval_ms=poll_ms)
    poison = updated(uuid.uuid4(), "dead-for-ever")
    async with LifespanManager(app, shutdown_timeout=30):  # the consumer is still retrying
        await produce(bootstrap, [encode_kafka(poison)], topic)
        loop = asyncio.get_running_loop()
        deadline, body, joined = loop.time() + 60, {}, False
        while loop.time() < deadline:  # until evicted, or waiting well past max poll interval
            body = await ready_body(app)
            held = body.get("assignment", {}).get(consumer.name, {}).get(topic)
            joined = joined or bool(held)
            outage = body.get("messaging", {}).get("consumers", {}).get(consumer.name, {})
            waited = (outage.get("outage") or {}).get("since_s", 0)
            if waited > 3 * poll_ms / 1000 or (joined and not held):
                break
            await asyncio.sleep(0.2)
        assert body["assignment"][consumer.name][topic], "the member left its group"
        group = infrastructure.service_env().get("consumer_group_prefix", "") + consumer.name
        async with offsets.reader(bootstrap, group) as kafka:
            tps = await offsets.partitions(kafka, [topic])
            kafka.assign(tps)
            done = await offsets.committed(kafka, tps)
        assert not any(done.values()), f"the offset moved past the poison record: {done}"


def test_what_counts_as_an_outage():
    """Issue 15 item 6: serialization failures, deadlocks and lost connections are outages
    (retried without limit); constraint violations, statement timeouts and bugs are not."""
    import psycopg
    from sqlalchemy import exc
    from vareon_chassis.messaging.consumer import is_outage

    def wrapped(error):
        return exc.OperationalError("stmt", {}, error)

    assert is_outage(wrapped(psycopg.errors.SerializationFailure("s")))
    assert is_outage(wrapped(psycopg.errors.DeadlockDetected("d")))
    assert is_outage(wrapped(psycopg.OperationalError("connection refused")))
    assert is_outage(RuntimeError("handler wrapped it")) is False
    try:
        try:
            raise wrapped(psycopg.errors.SerializationFailure("s"))
        except exc.OperationalError as inner:
            raise RuntimeError("handler wrapped it") from inner
    except RuntimeError as outer:
        assert is_outage(outer)
    assert not is_outage(exc.IntegrityError("stmt", {}, psycopg.errors.UniqueViolation("u")))
    assert not is_outage(wrapped(psycopg.errors.QueryCanceled("statement timeout")))
    assert not is_outage(ValueError("a bug"))
