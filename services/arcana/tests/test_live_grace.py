"""A reply nobody comes back to (issue 21): after the grace period the call stops, what was
produced is billed once, and a late reconnect is told the stream is gone (410), not left
waiting."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from vareon_arcana.models import Message
from vareon_arcana.settings import ArcanaSettings
from vareon_contracts import topics

from .conftest import eventually
from .test_chat import usage_published
from .test_live_replies import BASE, events, paid_session

GRACE_S = 0.3


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    return settings.model_copy(update={"stream_grace_s": GRACE_S})


async def test_after_the_grace_period_the_call_stops_is_billed_once_and_a_reconnect_is_gone(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    words = [f"w{i}" for i in range(40)]
    user, me, model, sid = await paid_session(
        client, signing_key, publish, db, fake, words=words, delay_s=0.15
    )
    async with client.stream(
        "POST", f"{BASE}/{sid}/messages", headers=me, json={"content": "a long story"}
    ) as response:
        message_id = response.headers["x-vareon-message-id"]
        before = await events(response, chunks=2)  # then hang up, never to come back in time

    async def stopped():
        async with db() as s:
            return await s.scalar(select(Message).where(Message.id == uuid.UUID(message_id)))

    stored = await eventually(stopped, timeout_s=30)
    assert stored.status == "disconnected"
    upstream = next(s for s in server.streams if s.model == model)
    assert upstream.cancelled and not upstream.finished  # the provider call was stopped
    seen = "".join(e["data"]["delta"] for e in before if e["event"] == "chunk")
    assert stored.content.startswith(seen) and 2 <= stored.tokens_out < len(words)

    usage = await event_log.wait_for(topics.ARCANA_USAGE, lambda e: e.data["user_id"] == str(user))
    assert usage[0].data["usage_id"] == str(stored.usage_id)
    assert usage[0].data["cost"] == stored.cost > 0
    assert await usage_published(db, user) == 1  # billed exactly once

    stream_url = f"{BASE}/{sid}/messages/{message_id}/stream"
    late = await client.get(stream_url, headers={**me, "Last-Event-ID": before[-1]["id"]})
    assert late.status_code == 410, late.text
    assert late.headers["content-type"].startswith("application/problem+json")
    problem = late.json()
    assert problem["type"].endswith("reply-stream-expired") and message_id in problem["detail"]
    assert (await client.get(stream_url, headers=me)).status_code == 410
    assert await usage_published(db, user) == 1
