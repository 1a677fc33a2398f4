from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from vareon_arcana.models import INBOX, BalanceReplica, ChatSession, Message, RoutingRuleReplica
from vareon_contracts.events.identity import UserDeletedV1

from .conftest import balance, eventually, rule, target
from .test_chat import new_session, seed


async def _ask(client, headers, sid):
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=headers,
        json={"content": "which model?", "stream": False},
    )
    assert response.status_code == 200, response.text
    return response.json()["receipt"]["model"]


async def test_rule_replica_follows_revisions_and_tombstones(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    tag = uuid.uuid4().hex[:6]
    old, new = server.behave(f"old-{tag}"), server.behave(f"new-{tag}")
    category = f"cat-{tag}"
    first = rule(category, [target(old)])
    await publish(first)

    async def revision(n):
        async with db() as s:
            row = await s.get(RoutingRuleReplica, first.rule_id, populate_existing=True)
            return row is not None and row.revision == n

    await eventually(lambda: revision(1))
    sid = await new_session(client, me, category)
    assert await _ask(client, me, sid) == old

    await publish(rule(category, [target(new)], rule_id=first.rule_id, revision=3))
    await publish(rule(category, [target(old)], rule_id=first.rule_id, revision=2))  # late
    await eventually(lambda: revision(3))
    assert await _ask(client, me, sid) == new

    await publish(rule(category, [target(new)], rule_id=first.rule_id, revision=4, deleted=True))
    await eventually(lambda: revision(4))
    assert await _ask(client, me, sid) == "vareon-offline-1"  # no rule matches any more


async def test_balance_never_goes_backwards_and_redelivery_applies_once(publish, db):
    user = uuid.uuid4()
    now = datetime.now(UTC)
    newer = await publish(balance(user, 700, at=now))
    await publish(balance(user, 900, at=now - timedelta(minutes=1)))  # older, arrives later
    await publish(balance(user, 700, at=now), envelope=newer)  # the same event redelivered
    marker = balance(user, 650, at=now + timedelta(seconds=1))
    await publish(marker)

    async def latest():
        async with db() as s:
            row = await s.get(BalanceReplica, user, populate_existing=True)
            return row is not None and row.available == 650

    await eventually(latest)
    async with db() as s:
        rows = await s.scalar(
            select(func.count()).select_from(INBOX).where(INBOX.c.event_id == newer.id)
        )
    assert rows == 1


async def test_user_deleted_erases_sessions_and_messages(client, signing_key, publish, db, fake):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(f"m-{uuid.uuid4().hex[:6]}")
    category = await seed(publish, db, targets=[target(model)])
    sid = await new_session(client, me, category)
    await _ask(client, me, sid)
    await publish(UserDeletedV1(user_id=user, deleted_at=datetime.now(UTC)))

    async def erased():
        async with db() as s:
            return (
                await s.scalar(
                    select(func.count()).select_from(ChatSession).where(ChatSession.user_id == user)
                )
                == 0
            )

    await eventually(erased)
    async with db() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.session_id == uuid.UUID(sid))
            )
            == 0
        )
