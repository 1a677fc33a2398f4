"""The balance replica and admission follow the wallet's causal marker, not clocks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from vareon_arcana.models import INBOX, BalanceReplica

from .conftest import balance, eventually, target
from .test_chat import PRICE_IN, PRICE_OUT, new_session, seed


async def _applied(db, envelope) -> bool:
    async with db() as s:
        seen = await s.scalar(
            select(func.count()).select_from(INBOX).where(INBOX.c.event_id == envelope.id)
        )
        return bool(seen)


async def test_an_unrelated_balance_change_does_not_hide_unacknowledged_usage(
    client, signing_key, publish, db, fake
):
    """Credits item 1: over-admission after an unrelated balance change.

    Replica 2 calls' worth; A and B are admitted and settle; the wallet charges A only and
    announces the balance after A (with a later changed_at). B is still owed: C must be
    refused, because the wallet would otherwise go below zero.
    """
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(f"causal-{uuid.uuid4().hex[:6]}", words=["w"] * 60)
    # Maximum cost of one call ~1,070 micro-credits; each costs 100*2 + 60*10 = 800.
    start = 2_140
    category = await seed(
        publish,
        db,
        user_id=user,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    first = await publish(balance(user, start, seq=1, arcana_usage_seq=0))
    await eventually(lambda: _applied(db, first))
    sid = await new_session(client, me, category)

    async def ask():
        return await client.post(
            f"/api/v1/arcana/sessions/{sid}/messages",
            headers=me,
            json={"content": "hi", "stream": False, "max_tokens": 100},
        )

    for _ in ("A", "B"):
        answered = await ask()
        assert answered.status_code == 200, answered.text
        assert answered.json()["receipt"]["cost"] == 800
    # The wallet charged A (usage 1 of this user) and nothing else yet.
    after_a = await publish(
        balance(user, start - 800, seq=2, arcana_usage_seq=1, at=datetime.now(UTC))
    )
    await eventually(lambda: _applied(db, after_a))
    status = (await client.get("/api/v1/arcana/status", headers=me)).json()
    assert status["balance"] == {"available": start - 800, "spendable": start - 1_600}
    refused = await ask()
    assert refused.status_code == 402, refused.text


async def test_the_replica_follows_the_wallet_sequence_not_its_clock(publish, db):
    """Credits item 1: the replica's never-goes-backwards guard is the per-wallet sequence.

    Transactions take the account lock in another order than they start, so a change with
    a later sequence may carry an earlier changed_at.
    """
    user = uuid.uuid4()
    now = datetime.now(UTC)
    await publish(balance(user, 500, seq=2, arcana_usage_seq=0, at=now - timedelta(seconds=5)))
    late = await publish(balance(user, 900, seq=1, arcana_usage_seq=0, at=now))
    await eventually(lambda: _applied(db, late))
    async with db() as s:
        row = await s.get(BalanceReplica, user, populate_existing=True)
        assert row is not None and row.available == 500
