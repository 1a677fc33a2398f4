import uuid
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from sqlalchemy import func, select
from vareon_chassis import idempotency
from vareon_chassis.messaging.broker import create_producer
from vareon_chassis.messaging.consumer import ConsumerRuntime
from vareon_contracts import Envelope, encode_kafka, topics
from vareon_contracts.events.identity import UserDeletedV1
from vareon_myntrix.consumers import build_consumers
from vareon_myntrix.models import Agent, Command, Device, idempotency_keys, inbox_table

from .conftest import API, register_device


def _record(envelope: Envelope) -> ConsumerRecord:
    key, value, headers = encode_kafka(envelope)
    return ConsumerRecord(
        topic=topics.IDENTITY_USER,
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=headers,
    )


async def test_a_deleted_user_loses_agents_and_commands_and_is_anonymised_elsewhere(
    client, auth, settings, sessionmaker
):
    user, other = uuid.uuid4(), uuid.uuid4()
    mine = auth(user, "devices:write")
    for owner in (mine, auth(other)):
        agent = (
            await client.post(
                f"{API}/agents", headers=owner, json={"name": "a", "kind": "chat", "model": "m"}
            )
        ).json()
        await client.post(
            f"{API}/agents/actions",
            headers=owner,
            json={"agent_ids": [agent["id"]], "action": "start", "idempotency_key": "k"},
        )
    device = await register_device(client, mine)
    async with sessionmaker.begin() as session:  # a quick action's remembered key
        await idempotency.claim(
            session, idempotency_keys, idempotency.Scope(user, "deploy-to-my-devices", "k"), "h"
        )

    users = next(c for c in build_consumers() if c.name == "myntrix.users")
    producer = create_producer(settings)
    await producer.start()
    try:
        runtime = ConsumerRuntime(users, sessionmaker, inbox_table, producer)
        event = Envelope.wrap(
            UserDeletedV1(user_id=user, deleted_at=datetime.now(UTC)), source="/identity"
        )
        assert await runtime.process(_record(event)) == "applied"
        assert await runtime.process(_record(event)) == "duplicate"
    finally:
        await producer.stop()

    async with sessionmaker() as session:
        count = lambda model, col, who: session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(col == who)
        )
        assert await count(Agent, Agent.owner_id, user) == 0
        assert await count(Command, Command.owner_id, user) == 0
        assert await count(Agent, Agent.owner_id, other) == 1
        assert await count(Command, Command.owner_id, other) == 1
        keys = idempotency_keys.c.owner_id
        assert await session.scalar(select(func.count()).where(keys == user)) == 0
        kept = await session.get(Device, uuid.UUID(device["id"]))
        assert kept is not None and kept.registered_by is None
