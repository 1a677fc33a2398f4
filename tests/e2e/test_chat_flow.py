"""A user chats through the gateway: routed by cognisys, streamed by arcana, charged by wallet."""

import asyncio
import json
import uuid

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
        if response.status_code == 402:  # arcana has not yet heard of the signup bonus
            return []
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.removeprefix("data:"))))
    return events


async def until(predicate, timeout_s=15.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (result := await predicate()):
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.2)
    return result


async def test_chat_is_routed_streamed_charged_and_rerouted(platform):
    category = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = await platform.register()
    await platform.make_admin(admin["email"])
    admin_tokens = await platform.login(admin["email"])
    created = await platform.gateway.post(
        "/api/v1/cognisys/routing-rules",
        json={
            "name": category,
            "priority": 500,
            "conditions": {"categories": [category]},
            "targets": [CHEAP],
        },
        headers=platform.bearer(admin_tokens),
    )
    assert created.status_code == 201, created.text
    rule = created.json()

    user = await platform.register()
    await platform.verify_email(user["email"])
    tokens = await platform.login(user["email"])
    await platform.wallet_with_bonus(tokens)
    session = await platform.gateway.post(
        "/api/v1/arcana/sessions", json={"category": category}, headers=platform.bearer(tokens)
    )
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]

    async def streamed_from(model):
        events = await stream_reply(platform, tokens, session_id, "hello there")
        if events and events[-1][0] == "done" and events[-1][1]["receipt"]["model"] == model:
            return events
        return None

    # arcana learns the rule and the balance from events; retry until both replicas have them
    events = await until(lambda: streamed_from("e2e-cheap"))
    chunks = [e for name, e in events if name == "chunk"]
    receipt = events[-1][1]["receipt"]
    assert chunks and receipt["cost"] > 0

    async def charged():
        wallet = (
            await platform.gateway.get("/api/v1/wallet", headers=platform.bearer(tokens))
        ).json()
        return wallet if wallet["posted_micro"] < platform.bonus else None

    wallet = await until(charged)
    assert wallet["posted_micro"] == platform.bonus - receipt["cost"]

    moved = await platform.gateway.patch(
        f"/api/v1/cognisys/routing-rules/{rule['id']}",
        json={"targets": [OTHER]},
        headers=platform.bearer(admin_tokens),
    )
    assert moved.status_code == 200, moved.text
    started = asyncio.get_running_loop().time()
    await until(lambda: streamed_from("e2e-other"), timeout_s=5)
    assert asyncio.get_running_loop().time() - started < 5


async def test_a_call_the_balance_cannot_cover_is_refused_with_402(platform):
    category = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = await platform.register()
    await platform.make_admin(admin["email"])
    admin_tokens = await platform.login(admin["email"])
    created = await platform.gateway.post(
        "/api/v1/cognisys/routing-rules",
        json={
            "name": category,
            "priority": 500,
            "conditions": {"categories": [category]},
            "targets": [PRICEY],
        },
        headers=platform.bearer(admin_tokens),
    )
    assert created.status_code == 201, created.text

    user = await platform.register()
    await platform.verify_email(user["email"])
    tokens = await platform.login(user["email"])
    await platform.wallet_with_bonus(tokens)
    session = await platform.gateway.post(
        "/api/v1/arcana/sessions", json={"category": category}, headers=platform.bearer(tokens)
    )

    async def refused():
        response = await platform.gateway.post(
            f"/api/v1/arcana/sessions/{session.json()['id']}/messages",
            json={"content": "hello", "stream": False},
            headers=platform.bearer(tokens),
        )
        return response if response.status_code == 402 else None

    response = await until(refused)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "e2e-pricey" not in platform.provider.calls
