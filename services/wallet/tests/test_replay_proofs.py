"""The wallet's read of identity and arcana events survives replay, redelivery and reordering."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from sqlalchemy import bindparam, func, select, text
from vareon_chassis.messaging.replay import Refused
from vareon_chassis.testing.plugin import (
    assert_duplicate_and_out_of_order_delivery_is_harmless,
    assert_rebuild_matches,
)
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.identity import UserDeletedV1, UserRegisteredV1
from vareon_wallet.app import create_app
from vareon_wallet.billing import grant
from vareon_wallet.consumers import build_consumers, reset_ledger
from vareon_wallet.models import inbox_table, outbox_table
from vareon_wallet.wallets import open_wallet


def projection_of(users):
    """The state events give these users: their wallets and every transfer touching them.

    Account ids are surrogates (a closure's key names the wallet's id): left out.
    """
    return (
        text(
            "SELECT a.user_id, a.status, a.balance, a.pending, a.floor,"
            " regexp_replace(t.idempotency_key, '^closure:.*', 'closure') AS key,"
            " t.amount, t.kind"
            " FROM accounts a LEFT JOIN transfers t"
            "  ON a.id IN (t.debit_account_id, t.credit_account_id)"
            " WHERE a.user_id IN :users ORDER BY a.user_id, key"
        )
        .bindparams(bindparam("users", expanding=True))
        .params(users=list(users))
    )


def story(users, deleted):
    """Registrations, usage charges for some users, and a deletion."""
    events = []
    for user in users:
        events.append(
            Envelope.wrap(
                UserRegisteredV1(
                    user_id=user,
                    email=f"{user.hex[:8]}@example.com",
                    display_name="R",
                    registered_at=datetime.now(UTC),
                ),
                source="/identity",
            )
        )
    for user in users[:2]:
        for cost in (1_500_000, 250_000):
            events.append(
                Envelope.wrap(
                    UsageRecordedV1(
                        usage_id=uuid.uuid4(),
                        user_id=user,
                        provider="openai",
                        model="gpt",
                        tokens_in=1,
                        tokens_out=1,
                        cost=cost,
                        recorded_at=datetime.now(UTC),
                    ),
                    source="/arcana",
                )
            )
    events.append(
        Envelope.wrap(
            UserDeletedV1(user_id=deleted, deleted_at=datetime.now(UTC)), source="/identity"
        )
    )
    return events


async def test_duplicated_and_interleaved_events_leave_the_same_ledger(
    infrastructure, sessionmaker, policy
):
    users = [uuid.uuid4() for _ in range(4)]
    await assert_duplicate_and_out_of_order_delivery_is_harmless(
        build_consumers(policy),
        story(users, deleted=users[3]),
        sessionmaker=sessionmaker,
        inbox=inbox_table,
        bootstrap=infrastructure.kafka_bootstrap,
        projection=projection_of(users),
        reset=reset_ledger,
    )


async def test_a_rebuilt_ledger_equals_the_one_built_live(
    infrastructure, settings, sessionmaker, policy
):
    users = [uuid.uuid4() for _ in range(3)]
    events = story(users, deleted=users[2])
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in events:
            key, value, headers = encode_kafka(envelope)
            topic = "vareon.arcana.usage" if "usage" in envelope.type else "vareon.identity.user"
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()

    async with LifespanManager(create_app(settings)) as manager:  # built live by the service
        app = manager.app
        for _ in range(200):
            async with sessionmaker() as s:
                applied = await s.scalar(
                    select(func.count())
                    .select_from(inbox_table)
                    .where(inbox_table.c.event_id.in_([e.id for e in events]))
                )
            if applied == len(events):
                break
            await asyncio.sleep(0.1)
        assert applied == len(events)
        del app
    # Events of earlier tests on the shared topics that the live run never reached are
    # applied, and announced, for the first time by the rebuild: count only this story's.
    caused_by_story = outbox_table.c.headers["ce_causationid"].astext.in_([e.id for e in events])
    async with sessionmaker() as s:
        sent_before = await s.scalar(
            select(func.count()).select_from(outbox_table).where(caused_by_story)
        )
    assert sent_before

    await assert_rebuild_matches(
        build_consumers(policy),  # wallet.users resets the ledger, then wallet.usage
        sessionmaker=sessionmaker,
        inbox=inbox_table,
        bootstrap=infrastructure.kafka_bootstrap,
        projection=projection_of(users),
    )
    async with sessionmaker() as s:
        staged = select(func.count()).select_from(outbox_table).where(caused_by_story)
        assert await s.scalar(staged) == sent_before, "a rebuild re-announces nothing"


async def test_the_ledger_reset_refuses_to_erase_what_no_event_carries(sessionmaker, policy):
    user = uuid.uuid4()
    async with sessionmaker.begin() as s:
        await open_wallet(s, policy, user)
        await reset_ledger(s)  # only event-made money so far: allowed
    async with sessionmaker.begin() as s:
        await open_wallet(s, policy, user)
        await grant(
            s,
            policy,
            admin_id=uuid.uuid4(),
            user_id=user,
            amount=5,
            reason="goodwill",
            idempotency_key="g1",
            request_hash="h",
        )
    async with sessionmaker() as s:
        with pytest.raises(Refused, match="grant"):
            await reset_ledger(s)
