"""Publish identity's `SessionsRevokedV1` as identity would, for services' revocation tests."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiokafka import AIOKafkaProducer
from vareon_contracts import encode_kafka, topics
from vareon_contracts.envelope import Envelope
from vareon_contracts.events.identity import SessionsRevokedV1


async def publish_revocation(
    bootstrap: str, user_id: UUID, session_ids: list[UUID], reason: str = "logout-all"
) -> None:
    event = SessionsRevokedV1(
        user_id=user_id, session_ids=session_ids, reason=reason, revoked_at=datetime.now(UTC)
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        key, value, headers = encode_kafka(Envelope.wrap(event, source="vareon-identity"))
        await producer.send_and_wait(topics.IDENTITY_SESSION, value, key=key, headers=headers)
    finally:
        await producer.stop()
