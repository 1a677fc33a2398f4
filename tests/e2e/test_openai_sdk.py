"""Issue 19: the official `openai` SDK (OpenAI and AsyncOpenAI) against the gateway with an
API key: gateway -> arcana -> the fake OpenAI provider, charged by the wallet.

Every wait is on an event having been consumed (the key's creation or revocation by arcana,
the usage by the wallet), never on a sleep."""

import asyncio
import uuid

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from vareon_contracts import topics

from .test_chat_flow import admin_tokens, create_rule, rule_known, verified_user

PRICED = {"provider": "fake", "input_price_per_1k": 10_000, "output_price_per_1k": 20_000}


async def key_for(platform, event_log, tokens, **spec):
    """A key made through the gateway, once arcana's replica has it."""
    made = await platform.gateway.post(
        "/api/v1/auth/api-keys", json={"name": "sdk", **spec}, headers=platform.bearer(tokens)
    )
    assert made.status_code == 201, made.text
    key = made.json()
    await event_log.consumed(
        platform.groups + "arcana.api-keys",
        topics.IDENTITY_API_KEY,
        lambda e: e.data.get("key_id") == key["id"],
    )
    return key


async def setup(platform, event_log, **spec):
    model = f"e2e-oa-{uuid.uuid4().hex[:6]}"
    rule = await create_rule(
        platform, await admin_tokens(platform), model, {**PRICED, "model": model}
    )
    user, tokens = await verified_user(platform, event_log)
    await rule_known(platform, event_log, rule["id"])
    key = await key_for(platform, event_log, tokens, **spec)
    base_url = str(platform.gateway.base_url) + "/v1"
    return model, user, tokens, key, base_url


async def test_the_sdk_completes_streams_and_lists_models_and_the_wallet_charges_the_key(
    platform, event_log
):
    model, user, tokens, key, base_url = await setup(platform, event_log)
    messages = [{"role": "user", "content": "hello there"}]

    def sync_call():
        with OpenAI(base_url=base_url, api_key=key["key"], max_retries=0) as client:
            return client.chat.completions.create(model=model, messages=messages, max_tokens=64)

    completion = await asyncio.to_thread(sync_call)
    assert completion.object == "chat.completion" and completion.model == model
    assert completion.choices[0].message.content == " ".join(f"w{i}" for i in range(10))
    assert completion.usage.completion_tokens == 10

    async with AsyncOpenAI(base_url=base_url, api_key=key["key"], max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == completion.choices[0].message.content
        assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 110
        assert all(c.usage is None for c in chunks[:-1])

        listed = [m.id async for m in client.models.list()]
        assert model in listed and "vareon/auto" in listed

    await event_log.consumed(
        platform.groups + "wallet.usage",
        topics.ARCANA_USAGE,
        lambda e: e.data.get("user_id") == user["id"],
        count=2,
    )
    usage = await platform.gateway.get(
        "/api/v1/arcana/usage", params={"key_id": key["id"]}, headers=platform.bearer(tokens)
    )
    assert usage.status_code == 200, usage.text
    [row] = usage.json()["rows"]
    assert row["requests"] == 2 and row["key_id"] == key["id"] and row["model"] == model
    wallet = (await platform.gateway.get("/api/v1/wallet", headers=platform.bearer(tokens))).json()
    assert platform.bonus - wallet["posted_micro"] == row["credits"] > 0


async def test_a_spent_key_budget_is_the_sdks_insufficient_quota(platform, event_log):
    model, _, _, key, base_url = await setup(platform, event_log, budget_total=1)
    async with AsyncOpenAI(base_url=base_url, api_key=key["key"], max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
    assert raised.value.status_code == 402
    assert raised.value.code == "insufficient_quota"
    assert raised.value.body["problem"]["type"].endswith("/api-key-budget-exceeded")


async def test_a_revoked_key_is_refused_once_arcana_has_the_revocation(platform, event_log):
    model, _, tokens, key, base_url = await setup(platform, event_log)
    async with AsyncOpenAI(base_url=base_url, api_key=key["key"], max_retries=0) as client:
        ok = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
        assert ok.choices[0].message.content
        revoked = await platform.gateway.delete(
            f"/api/v1/auth/api-keys/{key['id']}", headers=platform.bearer(tokens)
        )
        assert revoked.status_code == 200
        await event_log.consumed(
            platform.groups + "arcana.api-keys",
            topics.IDENTITY_API_KEY,
            lambda e: e.data.get("key_id") == key["id"] and e.type.endswith(".revoked.v1"),
        )
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.models.list()
    assert raised.value.code == "invalid_api_key"


async def test_the_sdk_calls_tools_through_the_gateway_streamed_and_not(platform, event_log):
    model, user, _, key, base_url = await setup(platform, event_log)
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    platform.provider.behave(model, tool_calls=[("get_weather", '{"city": "Paris"}')])
    asked = [{"role": "user", "content": "weather in Paris?"}]
    async with AsyncOpenAI(base_url=base_url, api_key=key["key"], max_retries=0) as client:
        whole = await client.chat.completions.create(
            model=model, messages=asked, tools=[weather], tool_choice="auto"
        )
        [call] = whole.choices[0].message.tool_calls
        assert whole.choices[0].finish_reason == "tool_calls"
        assert call.function.arguments == '{"city": "Paris"}'

        stream = await client.chat.completions.create(
            model=model, messages=asked, tools=[weather], stream=True
        )
        pieces = [p async for c in stream if c.choices for p in c.choices[0].delta.tool_calls or []]
        assert pieces[0].function.name == "get_weather" and pieces[0].id
        assert "".join(p.function.arguments for p in pieces) == call.function.arguments

        platform.provider.behave(model, replies=["Sunny."])
        history = [
            *asked,
            whole.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ]
        after = await client.chat.completions.create(model=model, messages=history)
        assert after.choices[0].message.content == "Sunny."
        assert platform.provider.requests[-1]["messages"][-1]["tool_call_id"] == call.id

        offline = await client.chat.completions.create(  # free, deterministic (no key)
            model="vareon-offline-1", messages=asked, tools=[weather], tool_choice="required"
        )
        [demo] = offline.choices[0].message.tool_calls
        assert (demo.function.name, offline.vareon["cost"]) == ("get_weather", 0)

    await event_log.consumed(
        platform.groups + "wallet.usage",
        topics.ARCANA_USAGE,
        lambda e: e.data.get("user_id") == user["id"],
        count=3,
    )
