"""Events in (real broker and the chassis ConsumerRuntime) and events out (outbox, topic)."""

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from vareon_chassis.messaging.broker import create_producer
from vareon_chassis.messaging.consumer import ConsumerRuntime
from vareon_chassis.testing.consumer_checks import consumer_record
from vareon_contracts import Envelope, encode_kafka, topics
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.identity import UserDeletedV1, UserRegisteredV1
from vareon_contracts.events.neosyntis import TrainingUsageRecordedV1
from vareon_wallet import accounts, ledger_audit
from vareon_wallet.consumers import build_consumers
from vareon_wallet.models import Transfer, inbox_table, outbox_table

from .conftest import BONUS, THRESHOLD


def _registered(user: uuid.UUID) -> Envelope:
    return Envelope.wrap(
        UserRegisteredV1(
            user_id=user, email="a@example.com", display_name="A", registered_at=datetime.now(UTC)
        ),
        source="/identity",
    )


async def test_registration_on_the_broker_pays_the_bonus_once(
    infrastructure, settings, app, sessionmaker, event_log
):
    user = uuid.uuid4()
    envelope = _registered(user)
    key, value, headers = encode_kafka(envelope)
    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=False
    )
    await producer.start()
    try:
        for _ in range(2):  # redelivered: the same event id twice
            await producer.send_and_wait(
                topics.IDENTITY_USER, value=value, key=key, headers=headers
            )
    finally:
        await producer.stop()

    changed = await event_log.wait_for(
        topics.WALLET_BALANCE, lambda e: e.data.get("user_id") == str(user), timeout_s=30
    )
    assert changed[0].data["balance"] == BONUS and changed[0].data["kind"] == "signup-bonus"
    # the group committed past both copies: the duplicate was handled, not still on its way
    await event_log.consumed(
        settings.consumer_group_prefix + "wallet.users",
        topics.IDENTITY_USER,
        lambda e: e.id == envelope.id,
        count=2,
    )
    async with sessionmaker() as session:
        wallet = await accounts.require_wallet(session, user)
        assert wallet.balance == BONUS
        bonuses = await session.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.credit_account_id == wallet.id)
        )
        assert bonuses == 1
    created = await event_log.all(
        topics.WALLET_WALLET, lambda e: e.data.get("user_id") == str(user), settle_s=0
    )
    assert len(created) == 1


async def test_a_redelivered_usage_record_is_charged_once(settings, sessionmaker, policy):
    users, usage = build_consumers(policy)
    producer = create_producer(settings)
    await producer.start()
    try:
        registrations = ConsumerRuntime(users, sessionmaker, inbox_table, producer)
        charges = ConsumerRuntime(usage, sessionmaker, inbox_table, producer)
        user = uuid.uuid4()
        assert (
            await registrations.process(consumer_record(_registered(user), topics.IDENTITY_USER))
            == "applied"
        )
        event = Envelope.wrap(
            UsageRecordedV1(
                usage_id=uuid.uuid4(),
                user_id=user,
                provider="openai",
                model="gpt",
                tokens_in=10,
                tokens_out=20,
                cost=BONUS - THRESHOLD + 1,
                recorded_at=datetime.now(UTC),
            ),
            source="/arcana",
        )
        # The effect committed, then the process died before committing the offset: the
        # broker hands the same record over again.
        assert await charges.process(consumer_record(event, topics.ARCANA_USAGE, 7)) == "applied"
        assert await charges.process(consumer_record(event, topics.ARCANA_USAGE, 7)) == "duplicate"

        async with sessionmaker() as session:
            wallet = await accounts.require_wallet(session, user)
            assert wallet.balance == THRESHOLD - 1
            types = list(
                await session.scalars(select(outbox_table.c.event_type).order_by(outbox_table.c.id))
            )
        assert types == [
            "vareon.wallet.wallet.created.v1",
            "vareon.wallet.balance.changed.v1",
            "vareon.wallet.balance.changed.v1",
            "vareon.wallet.balance.low-crossed.v1",
        ]

        deleted = Envelope.wrap(
            UserDeletedV1(user_id=user, deleted_at=datetime.now(UTC)), source="/identity"
        )
        assert (
            await registrations.process(consumer_record(deleted, topics.IDENTITY_USER, 8))
            == "applied"
        )
        async with sessionmaker() as session:
            wallet = await accounts.require_wallet(session, user)
            assert (wallet.status, wallet.balance) == ("closed", 0)
            assert (await ledger_audit.verify_ledger(session)).ok
    finally:
        await producer.stop()


async def test_training_compute_is_charged_once_per_usage_event(settings, sessionmaker, policy):
    users, usage = build_consumers(policy)
    producer = create_producer(settings)
    await producer.start()
    try:
        registrations = ConsumerRuntime(users, sessionmaker, inbox_table, producer)
        charges = ConsumerRuntime(usage, sessionmaker, inbox_table, producer)
        user, job = uuid.uuid4(), uuid.uuid4()
        await registrations.process(consumer_record(_registered(user), topics.IDENTITY_USER))
        slices = [
            Envelope.wrap(
                TrainingUsageRecordedV1(
                    usage_id=uuid.uuid4(),
                    job_id=job,
                    user_id=user,
                    cpu_seconds=1.5,
                    cost=cost,
                    recorded_at=datetime.now(UTC),
                ),
                source="/neosyntis",
            )
            for cost in (120_000, 80_000)
        ]
        for offset, event in enumerate(slices * 2):  # every slice delivered twice
            await charges.process(consumer_record(event, topics.NEOSYNTIS_TRAINING_JOB, offset))

        async with sessionmaker() as session:
            wallet = await accounts.require_wallet(session, user)
            assert wallet.balance == BONUS - 200_000
            assert (await ledger_audit.verify_ledger(session)).ok
    finally:
        await producer.stop()
