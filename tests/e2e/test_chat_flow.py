"""A user chats through the gateway: routed by cognisys, streamed by arcana, charged by wallet.

Every wait is on the event itself: a call is made once the consumer that must know of it
has committed past it (``event_log.consumed``), never retried until a window runs out."""

import json
import uuid

from vareon_contracts import topics

CHEAP = {
    "provider": "fake",
    "model": "e2e-cheap",
    "input_price_per_1k": 10_000,
    "output_price_per_1k": 20_000,
}
OTHER = {
    "provider": "fake",
    "model": "e2e-other",
    "input_price_per_1k": 10_000,
    "output_price_per_1k": 20_000,
}
PRICEY = {
    "provider": "fake",
    "model": "e2e-pricey",
    "input_price_per_1k": 10**9,
    "output_price_per_1k": 10**9,
}


async def stream_reply(platform, tokens, session_id, text):
    events = []
    async with platform.gateway.stream(
        "POST",
        f"/api/v1/arcana/sessions/{session_id}/messages",
        json={"content": text},
        headers=platform.bearer(tokens),
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.removeprefix("data:"))))
    return events


async def rule_known(platform, event_log, rule_id, revision=1):
    """Arcana's replica has applied the rule's ``revision``."""
    await event_log.consumed(
        platform.groups + "arcana.routing-rules",
        topics.COGNISYS_ROUTING_RULE,
        lambda e: e.data.get("rule_id") == rule_id and e.data.get("revision", 0) >= revision,
    )


async def balance_known(platform, event_log, user_id):
    """Arcana's balance replica has the signup bonus."""
    await event_log.consumed(
        platform.groups + "arcana.balances",
        topics.WALLET_BALANCE,
        lambda e: e.data.get("user_id") == user_id,
    )


async def create_rule(platform, admin_tokens, category, target):
    created = await platform.gateway.post(
        "/api/v1/cognisys/routing-rules",
        json={
            "name": category,
            "priority": 500,
            "conditions": {"categories": [category]},
            "targets": [target],
        },
        headers=platform.bearer(admin_tokens),
    )
    assert created.status_code == 201, created.text
    return created.json()


async def verified_user(platform, event_log):
    user = await platform.register()
    await platform.verify_email(user["email"])
    tokens = await platform.login(user["email"])
    await balance_known(platform, event_log, user["id"])
    return user, tokens


async def admin_tokens(platform):
    admin = await platform.register()
    await platform.make_admin(admin["email"])
    return await platform.login(admin["email"])


async def test_chat_is_routed_streamed_charged_and_rerouted(platform, event_log):
    category = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = await admin_tokens(platform)
    rule = await create_rule(platform, admin, category, CHEAP)
    user, tokens = await verified_user(platform, event_log)
    await rule_known(platform, event_log, rule["id"])
    session = await platform.gateway.post(
        "/api/v1/arcana/sessions", json={"category": category}, headers=platform.bearer(tokens)
    )
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]

    events = await stream_reply(platform, tokens, session_id, "hello there")
    assert events[-1][0] == "done", events
    receipt = events[-1][1]["receipt"]
    assert receipt["model"] == "e2e-cheap"
    assert [e for name, e in events if name == "chunk"] and receipt["cost"] > 0

    await event_log.consumed(
        platform.groups + "wallet.usage",
        topics.ARCANA_USAGE,
        lambda e: e.data.get("user_id") == user["id"],
    )
    wallet = (await platform.gateway.get("/api/v1/wallet", headers=platform.bearer(tokens))).json()
    assert wallet["posted_micro"] == platform.bonus - receipt["cost"]

    moved = await platform.gateway.patch(
        f"/api/v1/cognisys/routing-rules/{rule['id']}",
        json={"targets": [OTHER]},
        headers=platform.bearer(admin),
    )
    assert moved.status_code == 200, moved.text
    await rule_known(platform, event_log, rule["id"], revision=moved.json()["revision"])
    events = await stream_reply(platform, tokens, session_id, "hello again")
    assert events[-1][1]["receipt"]["model"] == "e2e-other"


async def test_a_call_the_balance_cannot_cover_is_refused_with_402(platform, event_log):
    category = f"e2e-{uuid.uuid4().hex[:6]}"
    rule = await create_rule(platform, await admin_tokens(platform), category, PRICEY)
    _, tokens = await verified_user(platform, event_log)
    await rule_known(platform, event_log, rule["id"])
    session = await platform.gateway.post(
        "/api/v1/arcana/sessions", json={"category": category}, headers=platform.bearer(tokens)
    )

    response = await platform.gateway.post(
        f"/api/v1/arcana/sessions/{session.json()['id']}/messages",
        json={"content": "hello", "stream": False},
        headers=platform.bearer(tokens),
    )
    assert response.status_code == 402, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "e2e-pricey" not in platform.provider.calls
