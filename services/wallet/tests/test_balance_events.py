"""Every change of a wallet's available balance is announced, in the wallet's own order."""

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from vareon_chassis.messaging.broker import create_producer
from vareon_chassis.messaging.consumer import ConsumerRuntime
from vareon_chassis.testing.consumer_checks import consumer_record
from vareon_contracts import Envelope, topics
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.identity import UserRegisteredV1
from vareon_contracts.events.neosyntis import TrainingUsageRecordedV1, charged_training_job
from vareon_wallet.consumers import build_consumers
from vareon_wallet.models import Hold, inbox_table, outbox_table

from .conftest import BONUS

CHANGED = "vareon.wallet.balance.changed.v1"


async def _changes(sessionmaker, user: uuid.UUID) -> list[dict]:
    async with sessionmaker() as session:
        payloads = await session.scalars(
            select(outbox_table.c.payload)
            .where(outbox_table.c.event_type == CHANGED, outbox_table.c.key == str(user))
            .order_by(outbox_table.c.id)
        )
        return list(payloads)


def _usage(user: uuid.UUID, cost: int, seq: int | None) -> Envelope:
    return Envelope.wrap(
        UsageRecordedV1(
            usage_id=uuid.uuid4(),
            user_id=user,
            provider="fake",
            model="m",
            tokens_in=1,
            tokens_out=1,
            cost=cost,
            recorded_at=datetime.now(UTC),
            seq=seq,
        ),
        source="/arcana",
    )


async def test_balance_changes_carry_the_wallet_sequence_and_the_arcana_usage_marker(
    settings, sessionmaker, policy
):
    """Credits item 1: the causal marker arcana admits by."""
    users, usage = build_consumers(policy)
    producer = create_producer(settings)
    await producer.start()
    try:
        registrations = ConsumerRuntime(users, sessionmaker, inbox_table, producer)
        charges = ConsumerRuntime(usage, sessionmaker, inbox_table, producer)
        user = uuid.uuid4()
        registered = Envelope.wrap(
            UserRegisteredV1(
                user_id=user,
                email="a@example.com",
                display_name="A",
                registered_at=datetime.now(UTC),
            ),
            source="/identity",
        )
        assert await registrations.process(consumer_record(registered, topics.IDENTITY_USER))
        for offset, seq in enumerate((1, 2), start=1):
            record = consumer_record(_usage(user, 100, seq), topics.ARCANA_USAGE, offset)
            assert await charges.process(record) == "applied"
        training = Envelope.wrap(
            TrainingUsageRecordedV1(
                usage_id=uuid.uuid4(),
                job_id=uuid.uuid4(),
                user_id=user,
                cpu_seconds=1.0,
                cost=50,
                recorded_at=datetime.now(UTC),
            ),
            source="/neosyntis",
        )
        assert (
            await charges.process(consumer_record(training, topics.NEOSYNTIS_TRAINING_JOB, 1))
            == "applied"
        )
    finally:
        await producer.stop()
    changes = await _changes(sessionmaker, user)
    assert [(c["seq"], c["arcana_usage_seq"], c["available"]) for c in changes] == [
        (1, 0, BONUS),
        (2, 1, BONUS - 100),
        (3, 2, BONUS - 200),
        (4, 2, BONUS - 250),
    ]
    # Neosyntis's admission marker: the training charge names its job.
    job = charged_training_job(changes[3]["kind"], changes[3]["reason"])
    assert str(job) == str(training.data["job_id"])
    assert changes[3]["change"] == -50


async def test_every_hold_change_is_announced(client, auth, sessionmaker):
    """Credits item 2: holds placed, captured, released or expired change `available`."""
    user = uuid.uuid4()
    me = auth(user)
    await client.post("/api/v1/wallet", headers=me)

    async def hold(amount: int, ttl_s: int | None = None) -> str:
        body = {"amount_micro": amount, "reason": "job", "ttl_s": ttl_s}
        response = await client.post("/api/v1/wallet/holds", headers=me, json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    captured = await hold(4_000_000)
    await client.post(f"/api/v1/wallet/holds/{captured}/capture", headers=me, json={})
    released = await hold(1_000_000)
    await client.post(f"/api/v1/wallet/holds/{released}/release", headers=me)
    expiring = await hold(2_000_000, ttl_s=1)

    async def expired() -> None:
        async with sessionmaker() as session:
            while (
                await session.scalar(select(Hold.status).where(Hold.id == uuid.UUID(expiring)))
                != "expired"
            ):
                await asyncio.sleep(0.1)
                session.expire_all()

    await asyncio.wait_for(expired(), 20)
    changes = await _changes(sessionmaker, user)
    left = BONUS - 4_000_000
    assert [(c["kind"], c["pending"], c["available"]) for c in changes] == [
        ("signup-bonus", 0, BONUS),
        ("hold-placed", 4_000_000, BONUS - 4_000_000),
        ("hold-capture", 0, left),
        ("hold-placed", 1_000_000, left - 1_000_000),
        ("hold-released", 0, left),
        ("hold-placed", 2_000_000, left - 2_000_000),
        ("hold-expired", 0, left),
    ]
    assert [c.get("hold_id") for c in changes] == [
        None,
        captured,
        captured,
        released,
        released,
        expiring,
        expiring,
    ]
    assert [c["seq"] for c in changes] == list(range(1, 8))
