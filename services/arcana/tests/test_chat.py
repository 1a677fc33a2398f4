from __future__ import annotations

import asyncio
import json
import math
import uuid

from sqlalchemy import func, select
from vareon_arcana.models import OUTBOX, BalanceReplica, Message, RoutingRuleReplica
from vareon_chassis.testing.fake_openai import PROMPT_TOKENS
from vareon_contracts import topics
from vareon_contracts.events.arcana import UsageRecordedV1

from .conftest import balance, eventually, rule, target

PRICE_IN, PRICE_OUT = 2_000, 10_000


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def seed(publish, db, *, user_id=None, available=None, targets=None, category=None):
    """Produce real events and wait until arcana's consumers applied them."""
    category = category or f"cat-{uuid.uuid4().hex[:8]}"
    if targets is not None:
        event = rule(category, targets)
        await publish(event)

        async def rule_seen():
            async with db() as s:
                return await s.get(RoutingRuleReplica, event.rule_id)

        await eventually(rule_seen)
    if available is not None:
        await publish(balance(user_id, available))

        async def balance_seen():
            async with db() as s:
                row = await s.get(BalanceReplica, user_id, populate_existing=True)
                return row is not None and row.available == available

        await eventually(balance_seen)
    return category


async def new_session(client, headers, category):
    response = await client.post(
        "/api/v1/arcana/sessions", headers=headers, json={"category": category}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def stream(client, headers, sid, content="hello there"):
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages", headers=headers, json={"content": content}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


async def usage_published(db, user):
    """Usage events arcana wrote for ``user``, once its relay has sent all of them (a row is
    marked sent only after the broker acknowledged it): "exactly one" without a settle window."""
    table = OUTBOX.table
    query = select(func.count(), func.count(table.c.sent_at)).where(
        table.c.key == str(user), table.c.event_type == UsageRecordedV1.event_type
    )

    async def all_sent():
        async with db() as s:
            total, sent = (await s.execute(query)).one()
        return total if total and total == sent else None

    return await eventually(all_sent)


def cost(tokens_in, tokens_out):
    return math.ceil((tokens_in * PRICE_IN + tokens_out * PRICE_OUT) / 1000)


async def test_streamed_reply_has_a_receipt_and_is_charged_once(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(f"paid-{uuid.uuid4().hex[:6]}", words=["Hello", "from", "fake"])
    category = await seed(
        publish,
        db,
        user_id=user,
        available=10_000_000,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    sid = await new_session(client, me, category)

    events = await stream(client, me, sid)
    assert [e for e, _ in events] == ["chunk", "chunk", "chunk", "done"]
    assert "".join(d["delta"] for e, d in events if e == "chunk") == "Hello from fake"
    receipt = events[-1][1]["receipt"]
    expected = cost(PROMPT_TOKENS, 3)
    assert receipt | {"message_id": None, "usage_id": None} == {
        "message_id": None,
        "usage_id": None,
        "provider": "fake",
        "model": model,
        "tokens_in": PROMPT_TOKENS,
        "tokens_out": 3,
        "cost": expected,
        "status": "completed",
    }

    history = (await client.get(f"/api/v1/arcana/sessions/{sid}/history", headers=me)).json()
    assert [(m["role"], m["content"]) for m in history["items"]] == [
        ("user", "hello there"),
        ("assistant", "Hello from fake"),
    ]
    assert history["items"][1]["cost"] == expected

    usage = await event_log.wait_for(topics.ARCANA_USAGE, lambda e: e.data["user_id"] == str(user))
    assert usage[0].data["cost"] == expected and usage[0].data["model"] == model
    assert usage[0].data["usage_id"] == receipt["usage_id"]
    assert await usage_published(db, user) == 1


async def test_non_streamed_reply_is_json(client, signing_key, publish, db, fake):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"free-{uuid.uuid4().hex[:6]}", words=["plain"])
    category = await seed(publish, db, targets=[target(model)])
    sid = await new_session(client, me, category)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=me,
        json={"content": "hi", "stream": False},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content"] == "plain" and body["receipt"]["cost"] == 0
    assert body["rule"] == f"rule-{category}"


async def test_fallback_before_the_first_chunk(client, signing_key, publish, db, fake):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    tag = uuid.uuid4().hex[:6]
    failing = server.behave(f"err-{tag}", kind="error")
    limited = server.behave(f"429-{tag}", kind="rate-limit", retry_after=60)
    stalled = server.behave(f"stall-{tag}", kind="stall")
    good = server.behave(f"good-{tag}", words=["rescued"])
    category = await seed(
        publish,
        db,
        targets=[
            target(failing),
            target(limited),
            target(stalled),
            target("unconfigured", "openai"),
            target(good),
        ],
    )
    sid = await new_session(client, me, category)
    events = await stream(client, me, sid)
    assert events[-1][0] == "done" and events[-1][1]["receipt"]["model"] == good
    assert events[0] == ("chunk", {"delta": "rescued"})
    assert [server.calls.count(m) for m in (failing, limited, stalled, good)] == [1, 1, 1, 1]


async def test_short_retry_after_is_honoured_on_the_same_target(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(
        f"brief-429-{uuid.uuid4().hex[:6]}",
        kind="rate-limit",
        retry_after=0.3,
        times=1,
        words=["after", "waiting"],
    )
    category = await seed(publish, db, targets=[target(model)])
    sid = await new_session(client, me, category)
    events = await stream(client, me, sid)
    assert events[-1][1]["receipt"]["model"] == model and server.calls.count(model) == 2


async def test_every_target_failing_is_a_503_problem(client, signing_key, publish, db, fake):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"down-{uuid.uuid4().hex[:6]}", kind="error")
    category = await seed(publish, db, targets=[target(model)])
    sid = await new_session(client, me, category)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages", headers=me, json={"content": "anyone?"}
    )
    assert response.status_code == 503
    assert response.json()["type"].endswith("/models-unavailable")


async def test_mid_stream_failure_ends_with_an_error_and_charges_what_was_produced(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    tag = uuid.uuid4().hex[:6]
    dying = server.behave(
        f"die-{tag}", kind="die", die_after=2, words=["one", "two", "three", "four"]
    )
    backup = server.behave(f"backup-{tag}")
    category = await seed(
        publish,
        db,
        user_id=user,
        available=10_000_000,
        targets=[target(dying, price_in=PRICE_IN, price_out=PRICE_OUT), target(backup)],
    )
    sid = await new_session(client, me, category)
    events = await stream(client, me, sid)
    assert [e for e, _ in events] == ["chunk", "chunk", "error"]
    error = events[-1][1]
    assert error["status"] == "failed" and backup not in server.calls
    receipt = error["receipt"]
    assert receipt["model"] == dying and receipt["tokens_out"] == 2  # "one two"
    assert receipt["cost"] == cost(receipt["tokens_in"], 2)
    usage = await event_log.wait_for(topics.ARCANA_USAGE, lambda e: e.data["user_id"] == str(user))
    assert usage[0].data["cost"] == receipt["cost"]
    async with db() as s:
        stored = await s.scalar(
            select(Message).where(Message.role == "assistant", Message.session_id == uuid.UUID(sid))
        )
    assert stored.content == "one two" and stored.status == "failed"


async def test_client_disconnect_stops_the_call_and_charges_only_what_was_produced(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(
        f"slow-{uuid.uuid4().hex[:6]}", delay_s=0.3, words=[f"w{i}" for i in range(40)]
    )
    category = await seed(
        publish,
        db,
        user_id=user,
        available=10_000_000,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    sid = await new_session(client, me, category)
    async with client.stream(
        "POST",
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=me,
        json={"content": "tell me a long story"},
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                break  # the first chunk arrived; hang up

    async def settled():
        async with db() as s:
            return await s.scalar(
                select(Message).where(
                    Message.role == "assistant", Message.session_id == uuid.UUID(sid)
                )
            )

    stored = await eventually(settled, timeout_s=10)
    assert stored.status == "disconnected"
    upstream = next(s for s in server.streams if s.model == model)
    await eventually(lambda: asyncio.sleep(0, upstream.cancelled), timeout_s=5)
    assert not upstream.finished and upstream.sent < 40
    assert 1 <= stored.tokens_out < 40
    assert stored.cost == cost(stored.tokens_in, stored.tokens_out)
