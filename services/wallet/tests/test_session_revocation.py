"""Wallet refuses the access token of a login identity revoked (issue 16 item 14)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from vareon_contracts import encode_kafka, topics
from vareon_contracts.envelope import Envelope
from vareon_contracts.events.identity import SessionsRevokedV1


async def publish(bootstrap: str, event: SessionsRevokedV1) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        key, value, headers = encode_kafka(Envelope.wrap(event, source="vareon-identity"))
        await producer.send_and_wait(topics.IDENTITY_SESSION, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_a_revoked_login_is_refused_before_its_token_expires(
    client, signing_key, infrastructure
):
    """Issue 16 item 14: after logout-all, a password change, a role revocation or deletion
    the access token kept working in wallet for up to 15 minutes."""
    user, login, other_login = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    revoked = {"Authorization": f"Bearer {signing_key.token(user, sid=str(login))}"}
    kept = {"Authorization": f"Bearer {signing_key.token(user, sid=str(other_login))}"}
    assert (await client.get("/api/v1/wallet", headers=revoked)).status_code != 401

    await publish(
        infrastructure.kafka_bootstrap,
        SessionsRevokedV1(
            user_id=user, session_ids=[login], reason="logout-all", revoked_at=datetime.now(UTC)
        ),
    )
    deadline = asyncio.get_running_loop().time() + 30  # a bound, not a window
    while (await client.get("/api/v1/wallet", headers=revoked)).status_code != 401:
        assert asyncio.get_running_loop().time() < deadline, "revocation never applied"
        await asyncio.sleep(0.1)
    assert (await client.get("/api/v1/wallet", headers=kept)).status_code != 401
