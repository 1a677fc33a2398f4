"""The contract checks can fail: bad outbox rows are reported, undeclared consumers refused."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from models import effects, inbox_table, outbox_table
from sqlalchemy import insert
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging import EventConsumer, Outbox
from vareon_chassis.service import Messaging, UndeclaredSubscription, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_chassis.testing.consumer_checks import (
    assert_consumer_accepts_examples,
    assert_unknown_version_dead_lettered,
    dead_letter_producer,
)
from vareon_chassis.testing.producer_checks import PublishedEventsWatch, check_outbox
from vareon_contracts import topics
from vareon_contracts.events.cognisys import RoutingRuleChangedV1
from vareon_contracts.events.identity import UserDeletedV1
from vareon_contracts.events.wallet import WalletCreatedV1

CREATED = "vareon.wallet.wallet.created.v1"
FIXTURE_INI = Path(__file__).resolve().parent / "fixture_service" / "alembic.ini"


def created() -> WalletCreatedV1:
    return WalletCreatedV1(
        wallet_id=uuid.uuid4(), user_id=uuid.uuid4(), created_at=datetime.now(UTC)
    )


async def stage(url, *payloads):
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            return [await Outbox(outbox_table, "/wallet").publish(session, p) for p in payloads]
    finally:
        await engine.dispose()


async def insert_row(url, **row):
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await session.execute(insert(outbox_table).values(**row))
    finally:
        await engine.dispose()


def good_row(**changes):
    payload = created()
    envelope_headers = {
        "ce_specversion": "1.0",
        "content-type": "application/json",
        "ce_id": str(uuid.uuid4()),
        "ce_source": "/wallet",
        "ce_type": CREATED,
        "ce_subject": str(payload.user_id),
        "ce_time": datetime.now(UTC).isoformat(),
    }
    row = {
        "event_id": envelope_headers["ce_id"],
        "topic": topics.WALLET_WALLET,
        "key": str(payload.user_id),
        "event_type": CREATED,
        "headers": envelope_headers,
        "payload": payload.model_dump(mode="json"),
    }
    return {**row, **changes}


async def test_events_published_through_the_outbox_pass(fixture_db):
    await stage(fixture_db, created(), created())
    problems, last = check_outbox(fixture_db, "wallet")
    assert problems == [] and last == 2


async def test_a_payload_breaking_its_schema_is_reported_with_type_and_field(fixture_db):
    row = good_row()
    await insert_row(fixture_db, **{**row, "payload": {**row["payload"], "wallet_id": 7}})
    bad = good_row()
    del bad["payload"]["created_at"]
    await insert_row(fixture_db, **bad)
    naive = good_row()
    naive["payload"]["created_at"] = "2026-01-01T10:00:00"
    await insert_row(fixture_db, **naive)

    problems, _ = check_outbox(fixture_db, "wallet")

    assert len(problems) == 3, problems
    assert problems[0].startswith(f"{CREATED} (outbox id 1): field 'wallet_id': 7 is not")
    assert "'created_at' is a required property" in problems[1]
    assert "field 'created_at': '2026-01-01T10:00:00' is not a 'date-time'" in problems[2]


async def test_an_undeclared_type_and_a_broken_envelope_are_reported(fixture_db):
    await stage(fixture_db, UserDeletedV1(user_id=uuid.uuid4(), deleted_at=datetime.now(UTC)))
    row = good_row()
    await insert_row(fixture_db, **{**row, "headers": {**row["headers"], "ce_specversion": "0.9"}})
    row = good_row()
    await insert_row(fixture_db, **{**row, "headers": {**row["headers"], "ce_type": "other"}})
    row = good_row()
    await insert_row(fixture_db, **{**row, "key": "not-the-user"})

    problems, _ = check_outbox(fixture_db, "wallet")

    assert "wallet publishes it but SERVICES['wallet'].publishes does not" in problems[0]
    assert "(outbox id 2): not a CloudEvent in Kafka binary mode" in problems[1]
    assert "CloudEvent attribute 'type' is 'other', expected" in problems[2]
    assert "Kafka key 'not-the-user' is not the payload's 'user_id'" in problems[3]
    assert "CloudEvent attribute 'subject'" in problems[4]
    assert len(problems) == 5, problems


async def test_the_watch_checks_the_tests_databases_and_shared_ones_incrementally(
    fixture_db, infrastructure
):
    # "chassis" databases are not checked by the plugin; this watch sees them as wallet's.
    watch = PublishedEventsWatch([("wallet", fixture_db)])
    watch.begin("tests/a")  # created before the test: a module- or session-scoped fixture
    own = await infrastructure.migrated_database("chassis", FIXTURE_INI)
    watch.migrated += [("wallet", own), ("gateway-x", own)]
    await insert_row(own, **good_row(payload={"wallet_id": "x"}))
    await insert_row(fixture_db, **good_row(topic="elsewhere"))

    first = watch.finish("tests/a")
    assert any(p.startswith(f"wallet: {CREATED} (outbox id 1): field") for p in first), first
    assert any("topic 'elsewhere'" in p for p in first), first

    watch.begin("tests/a")
    assert watch.finish("tests/a") == []  # shared rows already checked are not reported again
    await insert_row(fixture_db, **good_row(key=None))
    watch.begin("tests/b")
    assert watch.finish("tests/b") == []  # another directory's shared database is left alone
    watch.begin("tests/a")
    assert "(outbox id 2): Kafka key None" in watch.finish("tests/a")[0]


def test_create_service_refuses_an_undeclared_subscription():
    consumer = EventConsumer(name="wallet.rules", topics=(topics.COGNISYS_ROUTING_RULE,))

    @consumer.on(RoutingRuleChangedV1)
    async def changed(session, event, envelope):
        pass

    settings = ServiceSettings(service_name="wallet", database_url="postgresql+psycopg://x/y")
    with pytest.raises(UndeclaredSubscription) as refused:
        create_service(settings, title="t", messaging=Messaging(consumers=[consumer]))
    assert "wallet.rules handles vareon.cognisys.routing-rule.changed.v1" in str(refused.value)
    assert "SERVICES['wallet'].consumes" in str(refused.value)

    arcana = settings.model_copy(update={"service_name": "arcana"})
    create_service(arcana, title="t", messaging=Messaging(consumers=[consumer]))
    unlisted = settings.model_copy(update={"service_name": "chassis-test"})
    create_service(unlisted, title="t", messaging=Messaging(consumers=[consumer]))


async def test_the_consumer_checks_fail_on_a_handler_that_rejects_valid_events(
    fixture_db, infrastructure
):
    users = EventConsumer(name=f"contract-{uuid.uuid4().hex[:6]}", topics=(topics.IDENTITY_USER,))
    seen = []

    @users.on(UserDeletedV1)
    async def deleted(session, event, envelope):
        seen.append(event.user_id)
        if len(seen) == 2:
            raise RuntimeError("this handler cannot take the second example")
        await session.execute(insert(effects).values(event_id=envelope.id, note="deleted"))

    engine = create_engine(fixture_db)
    try:
        sessions = create_sessionmaker(engine)
        async with dead_letter_producer(infrastructure.kafka_bootstrap) as producer:
            with pytest.raises(AssertionError) as failed:
                await assert_consumer_accepts_examples(sessions, inbox_table, users, producer)
            assert "vareon.identity.user.deleted.v1: dead-lettered (handler-failed: " in str(
                failed.value
            )
            assert "cannot take the second example" in str(failed.value)
            assert len(seen) == 3  # the first example was also redelivered: 'duplicate'

            await assert_unknown_version_dead_lettered(
                sessions, inbox_table, users, producer, infrastructure.kafka_bootstrap
            )
    finally:
        await engine.dispose()
