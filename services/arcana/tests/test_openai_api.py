"""The OpenAI-compatible API in arcana (issue 19): API keys from identity's events, key
budgets admitted atomically, rpm, spend per key, OpenAI's wire format and error shape."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from vareon_arcana import pricing, tokens
from vareon_arcana.models import ApiKeyReplica, ApiKeySpend, UsageRecord
from vareon_chassis.api_keys import PREFIX_SHOWN, hash_api_key, new_api_key
from vareon_contracts.events.identity import ApiKeyCreatedV1, ApiKeyRevokedV1

from .conftest import eventually, target
from .test_chat import PRICE_IN, PRICE_OUT, seed, usage_published


async def make_key(publish, db, user_id, *, scopes=("chat", "models:read"), **limits) -> str:
    """A key as identity publishes it, once arcana's replica has it."""
    secret = new_api_key()
    event = ApiKeyCreatedV1(
        key_id=uuid.uuid4(),
        user_id=user_id,
        name="test",
        prefix=secret[:PREFIX_SHOWN],
        key_hash=hash_api_key(secret),
        scopes=list(scopes),
        owner_roles=["user"],
        created_at=datetime.now(UTC),
        **limits,
    )
    await publish(event)

    async def seen():
        async with db() as s:
            return await s.get(ApiKeyReplica, event.key_id)

    await eventually(seen)
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def ask(model: str, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


async def paid_setup(publish, db, fake, *, available=10**9, words=5, **limits):
    server, _ = fake
    user = uuid.uuid4()
    model = server.behave(f"pricey-{uuid.uuid4().hex[:6]}", words=["w"] * words)
    await seed(
        publish,
        db,
        user_id=user,
        available=available,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    return user, model, await make_key(publish, db, user, **limits)


async def test_a_completion_with_a_key_is_openai_shaped_and_attributed(client, publish, db, fake):
    user, model, key = await paid_setup(publish, db, fake)
    response = await client.post(
        "/v1/chat/completions", headers=bearer(key), json=ask(model, max_tokens=50)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == model
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "w w w w w",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}
    async with db() as s:
        [spend] = (await s.scalars(select(ApiKeySpend).where(ApiKeySpend.user_id == user))).all()
        record = await s.get(UsageRecord, spend.usage_id)
    assert spend.cost == record.cost == body["vareon"]["cost"] > 0


async def test_streaming_sends_usage_in_the_last_chunk(client, publish, db, fake):
    _, model, key = await paid_setup(publish, db, fake, words=3)
    response = await client.post(
        "/v1/chat/completions",
        headers=bearer(key),
        json=ask(model, stream=True, stream_options={"include_usage": True}),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [b.removeprefix("data: ") for b in response.text.strip().split("\n\n")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "w w w"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_models_lists_what_the_caller_may_use_with_prices(client, publish, db, fake):
    _, model, key = await paid_setup(publish, db, fake)
    response = await client.get("/v1/models", headers=bearer(key))
    assert response.status_code == 200
    listed = {m["id"]: m for m in response.json()["data"]}
    assert response.json()["object"] == "list"
    assert listed[model]["vareon"]["input_price_per_1k"] == PRICE_IN
    assert listed[model]["owned_by"] == "fake"
    assert {"vareon/auto", "vareon-offline-1"} <= set(listed)
    unknown = await client.post("/v1/chat/completions", headers=bearer(key), json=ask("nope"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert unknown.json()["error"]["param"] == "model"


async def test_keys_are_refused_when_unknown_revoked_or_out_of_scope(client, publish, db, fake):
    user, model, key = await paid_setup(publish, db, fake)
    unknown = await client.get("/v1/models", headers=bearer(new_api_key()))
    assert unknown.status_code == 401
    error = unknown.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["problem"]["type"] == "https://vareon.dev/problems/invalid-api-key"
    assert unknown.headers["content-type"] == "application/json"

    chat_only = await make_key(publish, db, user, scopes=["chat"])
    assert (await client.get("/v1/models", headers=bearer(chat_only))).status_code == 403

    async with db() as s:
        row = await s.scalar(
            select(ApiKeyReplica).where(ApiKeyReplica.key_hash == hash_api_key(key))
        )
    await publish(
        ApiKeyRevokedV1(
            key_id=row.key_id,
            user_id=user,
            key_hash=row.key_hash,
            reason="test",
            revoked_at=datetime.now(UTC),
        )
    )

    async def revoked():
        async with db() as s:
            found = await s.get(ApiKeyReplica, row.key_id, populate_existing=True)
            return found.revoked_at is not None

    await eventually(revoked)
    refused = await client.post("/v1/chat/completions", headers=bearer(key), json=ask(model))
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "this API key was revoked"


@pytest.mark.parametrize("budget", ["total", "day"])
async def test_twenty_parallel_calls_on_a_key_budget_for_one_admit_exactly_one(
    client, publish, db, fake, budget
):
    """Issue 19 item 4. The budget covers one call's maximum and, after its actual cost, not
    a second one's maximum; the wallet balance covers all twenty."""
    messages = [{"role": "user", "content": "hi"}]
    server, _ = fake
    model = server.behave(f"pricey-{uuid.uuid4().hex[:6]}", words=["w"] * 5)
    most = pricing.maximum_cost(
        [target(model, price_in=PRICE_IN, price_out=PRICE_OUT)], tokens.count_messages(messages), 50
    )
    user = uuid.uuid4()
    await seed(
        publish,
        db,
        user_id=user,
        available=10**9,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    limit = (
        {"budget_total": most + 1}
        if budget == "total"
        else {"budget_period": "day", "budget_per_period": most + 1}
    )
    key = await make_key(publish, db, user, **limit)

    async def call():
        return await client.post(
            "/v1/chat/completions", headers=bearer(key), json=ask(model, max_tokens=50)
        )

    responses = await asyncio.gather(*(call() for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [402] * 19, [r.text for r in responses if r.status_code != 402]
    refused = next(r for r in responses if r.status_code == 402).json()["error"]
    assert refused["code"] == "insufficient_quota" and refused["type"] == "insufficient_quota"
    assert refused["problem"]["type"].endswith("/api-key-budget-exceeded")
    await usage_published(db, user)
    async with db() as s:
        spent = await s.scalar(
            select(func.sum(ApiKeySpend.cost)).where(ApiKeySpend.user_id == user)
        )
    assert 0 < spent <= most + 1


async def test_rpm_limit_is_a_429_with_retry_after(client, publish, db, fake):
    server, _ = fake
    model = server.behave(f"free-{uuid.uuid4().hex[:6]}", words=["ok"])
    user = uuid.uuid4()
    await seed(publish, db, user_id=user, available=0, targets=[target(model)])
    key = await make_key(publish, db, user, rpm_limit=2)
    for _ in range(3):  # the window is the UTC minute: retry when the minute turned mid-way
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        statuses, last = [], None
        for _ in range(3):
            last = await client.post("/v1/chat/completions", headers=bearer(key), json=ask(model))
            statuses.append(last.status_code)
        if datetime.now(UTC).replace(second=0, microsecond=0) == minute:
            break
    assert statuses == [200, 200, 429], statuses
    assert int(last.headers["retry-after"]) >= 1
    assert last.json()["error"]["code"] == "rate_limit_exceeded"
    assert last.json()["error"]["type"] == "requests"


async def test_bad_requests_are_openai_400s_naming_the_parameter(client, publish, db, fake):
    _, model, key = await paid_setup(publish, db, fake)
    bad = await client.post(
        "/v1/chat/completions", headers=bearer(key), json=ask(model, temperature=5)
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert bad.json()["error"]["param"] == "temperature"
    many = await client.post("/v1/chat/completions", headers=bearer(key), json=ask(model, n=2))
    assert many.status_code == 400 and many.json()["error"]["param"] == "n"


async def test_a_wallet_that_cannot_pay_is_insufficient_quota(client, publish, db, fake):
    _, model, key = await paid_setup(publish, db, fake, available=1)
    response = await client.post("/v1/chat/completions", headers=bearer(key), json=ask(model))
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert response.json()["error"]["problem"]["type"].endswith("/insufficient-credits")


async def test_usage_view_groups_by_day_model_and_key(client, signing_key, publish, db, fake):
    user, model, key = await paid_setup(publish, db, fake)
    for _ in range(2):
        r = await client.post("/v1/chat/completions", headers=bearer(key), json=ask(model))
        assert r.status_code == 200
    view = await client.get("/api/v1/arcana/usage", headers=signing_key.headers(user))
    assert view.status_code == 200, view.text
    [row] = view.json()["rows"]
    assert row["model"] == model and row["requests"] == 2 and row["key_prefix"] == key[:11]
    async with db() as s:
        charged = await s.scalar(
            select(func.sum(UsageRecord.cost)).where(UsageRecord.user_id == user)
        )
    assert row["credits"] == view.json()["total_credits"] == charged
    other = await client.get(
        "/api/v1/arcana/usage",
        headers=signing_key.headers(uuid.uuid4()),
        params={"user_id": str(user)},
    )
    assert other.status_code == 403
    admin = signing_key.headers(uuid.uuid4(), "usage:read-any")
    theirs = await client.get("/api/v1/arcana/usage", headers=admin, params={"user_id": str(user)})
    assert theirs.status_code == 200 and theirs.json()["total_credits"] == charged


async def test_vareon_auto_without_a_matching_rule_is_the_free_offline_model(client, publish, db):
    user = uuid.uuid4()
    key = await make_key(publish, db, user)
    response = await client.post(
        "/v1/chat/completions", headers=bearer(key), json=ask("vareon/auto", stream=True)
    )
    assert response.status_code == 200, response.text
    frames = [b.removeprefix("data: ") for b in response.text.strip().split("\n\n")]
    chunks = [json.loads(f) for f in frames[:-1]]
    assert frames[-1] == "[DONE]" and "usage" not in chunks[-1]
    assert chunks[-1]["model"] == "vareon-offline-1"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)


async def test_message_names_are_forwarded_to_the_provider(client, publish, db, fake):
    server, _ = fake
    _, model, key = await paid_setup(publish, db, fake)
    messages = [
        {"role": "developer", "content": "be brief", "name": "house_rules"},
        {"role": "user", "content": "hi", "name": "ada"},
        {"role": "assistant", "content": "hello", "name": "guide"},
        {"role": "user", "content": "again"},
    ]
    response = await client.post(
        "/v1/chat/completions", headers=bearer(key), json={"model": model, "messages": messages}
    )
    assert response.status_code == 200, response.text
    assert server.requests[-1]["messages"] == [{**messages[0], "role": "system"}, *messages[1:]]


async def test_sampling_fields_reach_the_provider_and_unsupported_ones_are_400s(
    client, publish, db, fake
):
    server, _ = fake
    _, model, key = await paid_setup(publish, db, fake)
    sent = ask(
        model,
        temperature=0.25,
        max_completion_tokens=20,
        stop=["END", "STOP"],
        response_format={"type": "json_object"},
        n=1,
        seed=7,
    )
    response = await client.post("/v1/chat/completions", headers=bearer(key), json=sent)
    assert response.status_code == 200, response.text
    given = server.requests[-1]
    assert (given["temperature"], given["max_tokens"], given["stop"]) == (0.25, 20, ["END", "STOP"])
    assert given["response_format"] == {"type": "json_object"} and "seed" not in given

    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    for extra, param in [
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"messages": [{"role": "user", "content": [image]}]}, "messages"),
    ]:
        bad = await client.post(
            "/v1/chat/completions", headers=bearer(key), json=ask(model, **extra)
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param, bad.text


async def test_an_expired_key_is_refused(client, publish, db, fake):
    user, model, _ = await paid_setup(publish, db, fake)
    key = await make_key(publish, db, user, expires_at=datetime(2026, 1, 1, tzinfo=UTC))
    refused = await client.post("/v1/chat/completions", headers=bearer(key), json=ask(model))
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "this API key has expired"
