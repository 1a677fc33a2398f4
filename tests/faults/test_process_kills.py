"""Processes killed at the worst moment lose nothing and apply nothing twice."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy import text
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging import offsets
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1
from vareon_contracts.topics import IDENTITY_USER
from vareon_identity.keys import generate_signing_key

from .conftest import ROOT

BONUS = 7_000_000
REGISTERED = UserRegisteredV1.event_type


async def query(database_url: str, sql: str, **params: object) -> object:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return (await session.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


async def eventually(probe, expected, timeout_s: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (value := await probe()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{value!r} != {expected!r}"
        await asyncio.sleep(0.1)
    return value


async def test_an_event_committed_just_before_a_sigkill_is_published_after_restart(
    infrastructure, service_process, event_log, tmp_path
):
    generate_signing_key(tmp_path / "keys")
    database_url = await infrastructure.migrated_database(
        "identity", ROOT / "services/identity/alembic.ini"
    )
    env = {
        "database_url": database_url,
        "signing_keys_dir": tmp_path / "keys",
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 8192,
        "argon2_parallelism": 1,
        "relay_listen": "false",  # no wake-up: the row waits for a poll that never comes
        "relay_poll_interval_s": 3600,
    }
    identity = await service_process("identity", **env)
    await asyncio.sleep(0.5)  # the relay's start-up sweep is done: nothing sends the row now
    async with httpx.AsyncClient(base_url=identity.url) as client:
        response = await client.post(
            "/api/v1/auth/register",
            json={
                "email": f"k{uuid.uuid4().hex[:8]}@example.com",
                "password": "kill -9 ok?",
                "display_name": "Killed",
            },
        )
    assert response.status_code == 201, response.text  # 201: committed
    user_id = response.json()["id"]
    identity.kill()

    pending = (
        "SELECT count(*) FROM outbox WHERE key = :key AND event_type = :type AND sent_at IS NULL"
    )
    assert await query(database_url, pending, key=user_id, type=REGISTERED) == 1, (
        "committed, not yet sent"
    )

    await service_process("identity", **env)  # another process: it sweeps every pending row
    await eventually(lambda: query(database_url, pending, key=user_id, type=REGISTERED), 0)
    published = await event_log.all(
        IDENTITY_USER,
        lambda e: e.subject == user_id and e.type == UserRegisteredV1.event_type,
        settle_s=1.0,
    )
    assert len(published) == 1


async def test_a_consumer_killed_between_its_commit_and_its_ack_applies_nothing_twice(
    infrastructure, service_process
):
    database_url = await infrastructure.migrated_database(
        "wallet", ROOT / "services/wallet/alembic.ini"
    )
    warm_up, victim = registered(), registered()
    env = {"database_url": database_url, "initial_wallet_balance": BONUS}
    wallet = await service_process("wallet", **env, consumer_crash_after_commit_for=victim.id)
    balance = "SELECT coalesce(sum(balance), 0) FROM accounts WHERE user_id = :user"
    await produce(infrastructure.kafka_bootstrap, warm_up)
    await eventually(lambda: query(database_url, balance, user=warm_up.key), BONUS)

    where = await produce(infrastructure.kafka_bootstrap, victim)
    assert await wallet.exited() == 137, "the fault hook ends the process after the commit"
    assert await query(database_url, balance, user=victim.key) == BONUS
    assert await committed(infrastructure.kafka_bootstrap, where, wallet) <= where.offset, (
        "the offset of the applied record was not committed"
    )

    wallet = await service_process("wallet", **env)  # without the hook
    await eventually(
        lambda: committed(infrastructure.kafka_bootstrap, where, wallet), where.offset + 1
    )
    assert await query(database_url, balance, user=victim.key) == BONUS, "bonus paid once"
    bonuses = "SELECT count(*) FROM transfers WHERE idempotency_key = :key"
    assert await query(database_url, bonuses, key=f"signup-bonus:{victim.key}") == 1
    applied = "SELECT count(*) FROM inbox WHERE event_id = :id"
    assert await query(database_url, applied, id=victim.id) == 1
    async with httpx.AsyncClient(base_url=wallet.url) as client:
        metrics = (await client.get("/metrics")).text
    duplicates = [
        line
        for line in metrics.splitlines()
        if line.startswith("vareon_events_consumed_total{")
        and 'consumer="wallet.users"' in line
        and 'outcome="duplicate"' in line
    ]
    assert duplicates and float(duplicates[0].split()[-1]) >= 1, "redelivered, then skipped"


def registered() -> Envelope:
    return Envelope.wrap(
        UserRegisteredV1(
            user_id=uuid.uuid4(),
            email=f"c{uuid.uuid4().hex[:8]}@example.com",
            display_name="Crash",
            registered_at=datetime.now(UTC),
        ),
        source="/identity",
    )


async def produce(bootstrap: str, envelope: Envelope):
    """Send once, acknowledged; a fresh producer per try, as the outbox relay does (the
    embedded broker answers UnknownError for a while after it restarted empty)."""
    key, value, headers = encode_kafka(envelope)
    for attempt in range(10):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            return await producer.send_and_wait(IDENTITY_USER, value, key=key, headers=headers)
        except KafkaError:
            if attempt == 9:
                raise
            await asyncio.sleep(0.5)
        finally:
            await producer.stop()
    raise AssertionError("unreachable")


async def committed(bootstrap: str, where, wallet) -> int:
    tp = TopicPartition(where.topic, where.partition)
    group = wallet.env["WALLET_CONSUMER_GROUP_PREFIX"] + "wallet.users"
    async with offsets.reader(bootstrap, group) as kafka:
        return await kafka.committed(tp) or 0
