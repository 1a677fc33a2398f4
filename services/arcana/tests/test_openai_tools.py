"""Tools on the OpenAI-compatible API (issue 19): passed through to providers that call
them, in OpenAI's wire format, through the official SDK; metered like any other call."""

from __future__ import annotations

import json
import uuid

import openai
import pytest
from openai import AsyncOpenAI
from sqlalchemy import select
from vareon_arcana.models import ApiKeySpend, UsageRecord

from .conftest import target
from .test_chat import PRICE_IN, PRICE_OUT, seed
from .test_openai_api import make_key

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
ASK = [{"role": "user", "content": "weather in Paris?"}]
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
TOOL_HISTORY = [
    *ASK,
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "sunny", "c": 21}'},
]


@pytest.fixture
async def sdk(arcana_url, publish, db):
    """(the SDK on a fresh key, the key's user)."""
    user = uuid.uuid4()
    key = await make_key(publish, db, user)
    async with AsyncOpenAI(base_url=arcana_url + "/v1", api_key=key, max_retries=0) as client:
        yield client, user


async def tool_model(publish, db, fake, user, calls, *, targets=None):
    server, _ = fake
    model = server.behave(f"tools-{uuid.uuid4().hex[:6]}", tool_calls=calls)
    await seed(
        publish,
        db,
        user_id=user,
        available=10**9,
        targets=targets or [target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    return model


async def test_a_tool_call_comes_back_whole_and_is_charged_like_any_call(sdk, publish, db, fake):
    client, user = sdk
    model = await tool_model(publish, db, fake, user, [("get_weather", '{"city": "Paris"}')])
    completion = await client.chat.completions.create(
        model=model,
        messages=ASK,
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    sent = fake[0].requests[-1]
    assert sent["tools"] == [WEATHER]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert completion.usage.completion_tokens == 3
    async with db() as s:
        [spend] = (await s.scalars(select(ApiKeySpend).where(ApiKeySpend.user_id == user))).all()
        record = await s.get(UsageRecord, spend.usage_id)
    assert spend.cost == record.cost > 0 and record.tokens_out == 3


async def test_streamed_tool_calls_arrive_as_openai_streams_them(sdk, publish, db, fake):
    client, user = sdk
    calls = [("get_weather", '{"city": "Paris"}'), ("get_time", '{"zone": "Europe/Paris"}')]
    model = await tool_model(publish, db, fake, user, calls)
    stream = await client.chat.completions.create(
        model=model,
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice="required",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content is None
    assert first.tool_calls[0].index == 0 and first.tool_calls[0].function.name == "get_weather"
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for chunk in chunks:
        for piece in (chunk.choices and chunk.choices[0].delta.tool_calls) or []:
            if piece.id is not None:
                assert piece.type == "function" and piece.function.arguments == ""
                names[piece.index] = piece.function.name
            else:
                assert piece.function.name is None
            arguments[piece.index] = arguments.get(piece.index, "") + piece.function.arguments
    assert [(names[i], arguments[i]) for i in (0, 1)] == calls
    assert sum(len(c.choices[0].delta.tool_calls or []) for c in chunks if c.choices) > 4
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6

    async with client.chat.completions.stream(  # the SDK's own accumulator reads it too
        model=model, messages=ASK, tools=[WEATHER, TIME]
    ) as events:
        final = await events.get_final_completion()
    made = [(c.function.name, c.function.arguments) for c in final.choices[0].message.tool_calls]
    assert made == calls and final.choices[0].finish_reason == "tool_calls"


async def test_a_tool_result_goes_back_to_the_model_as_sent(sdk, publish, db, fake):
    client, user = sdk
    server, _ = fake
    model = server.behave(f"after-tools-{uuid.uuid4().hex[:6]}", replies=["Sunny, 21 C."])
    await seed(publish, db, user_id=user, available=10**9, targets=[target(model)])
    completion = await client.chat.completions.create(
        model=model, messages=TOOL_HISTORY, tools=[WEATHER]
    )
    assert completion.choices[0].message.content == "Sunny, 21 C."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.tool_calls is None
    assert server.requests[-1]["messages"] == TOOL_HISTORY


async def test_a_provider_configured_without_tools_is_left_out_of_tool_routes(
    sdk, publish, db, fake
):
    client, user = sdk
    server, _ = fake
    plain = server.behave(f"plain-{uuid.uuid4().hex[:6]}", replies=["no tools here"])
    model = server.behave(f"tools-{uuid.uuid4().hex[:6]}", tool_calls=[("get_time", "{}")])
    no_tools = target(plain, provider="fake-no-tools")
    both = await seed(publish, db, user_id=user, available=10**9, targets=[no_tools, target(model)])
    completion = await client.chat.completions.create(
        model=f"category:{both}", messages=ASK, tools=[TIME]
    )
    assert completion.model == model
    assert completion.choices[0].message.tool_calls[0].function.name == "get_time"
    without = await client.chat.completions.create(model=f"category:{both}", messages=ASK)
    assert (without.model, without.choices[0].message.content) == (plain, "no tools here")

    only = await seed(publish, db, targets=[no_tools])
    for messages, extra in [(ASK, {"tools": [WEATHER]}), (TOOL_HISTORY, {})]:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(
                model=f"category:{only}", messages=messages, **extra
            )
        error = raised.value.body
        assert error["code"] == "tools_not_supported" and error["param"] == "tools"
        assert plain in error["message"]


async def test_tool_parameters_are_checked_as_openai_checks_them(sdk, publish, db, fake):
    client, user = sdk
    model = await tool_model(publish, db, fake, user, [("get_weather", "{}")])
    named = {"type": "function", "function": {"name": "get_time"}}
    bad = [
        ({"tools": [WEATHER], "tool_choice": named}, "tool_choice"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"tools": [{"type": "function", "function": {"name": "no spaces"}}]}, "tools"),
    ]
    for extra, param in bad:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model=model, messages=ASK, **extra)
        assert raised.value.body["param"].startswith(param), (extra, raised.value.body)


PLACES = {
    "type": "function",
    "function": {
        "name": "find_places",
        "parameters": {
            "type": "object",
            "properties": {
                "near": {
                    "type": "object",
                    "properties": {
                        "lat": {"type": "number", "minimum": -90},
                        "lon": {"type": "number"},
                        "label": {"type": "string"},
                    },
                    "required": ["lat", "lon"],
                },
                "kind": {"type": "string", "enum": ["cafe", "park"]},
                "limit": {"type": "integer", "default": 5},
                "open_now": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "radius": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
                "note": {"type": "string"},
            },
            "required": ["near", "kind", "limit", "open_now", "tags", "radius"],
        },
    },
}


async def test_the_offline_model_calls_tools_with_arguments_from_their_schema(sdk):
    client, _ = sdk
    offline = "vareon-offline-1"
    required = await client.chat.completions.create(
        model=offline, messages=ASK, tools=[WEATHER, PLACES], tool_choice="required"
    )
    choice = required.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    assert (call.id, call.function.name) == ("call_offline_0", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "string"}
    assert required.vareon["cost"] == 0 and required.vareon["provider"] == "offline"

    named = {"type": "function", "function": {"name": "find_places"}}
    chose = await client.chat.completions.create(
        model=offline, messages=ASK, tools=[WEATHER, PLACES], tool_choice=named
    )
    [call] = chose.choices[0].message.tool_calls
    assert json.loads(call.function.arguments) == {
        "near": {"lat": -90, "lon": 0},
        "kind": "cafe",
        "limit": 5,
        "open_now": False,
        "tags": ["string"],
        "radius": None,
    }

    none = await client.chat.completions.create(
        model=offline, messages=ASK, tools=[WEATHER], tool_choice="none"
    )
    assert none.choices[0].finish_reason == "stop" and none.choices[0].message.tool_calls is None
    assert "weather in Paris?" in none.choices[0].message.content


async def test_the_offline_tool_loop_ends_in_text_and_streams_like_openai(sdk):
    client, _ = sdk
    first = await client.chat.completions.create(  # no rule: vareon/auto is the offline model
        model="vareon/auto", messages=ASK, tools=[WEATHER]
    )
    assert first.model == "vareon-offline-1"
    [call] = first.choices[0].message.tool_calls  # auto: a call, the last message asked
    history = [
        *ASK,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "sunny"}'},
    ]
    after = await client.chat.completions.create(
        model="vareon/auto", messages=history, tools=[WEATHER]
    )
    assert after.choices[0].finish_reason == "stop"
    assert '{"sky": "sunny"}' in after.choices[0].message.content  # auto: text after a result
    again = await client.chat.completions.create(
        model="vareon/auto", messages=history, tools=[WEATHER], tool_choice="required"
    )
    assert again.choices[0].message.tool_calls[0].id == "call_offline_1"

    async with client.chat.completions.stream(
        model="vareon-offline-1", messages=ASK, tools=[TIME, WEATHER], tool_choice="required"
    ) as events:
        final = await events.get_final_completion()
    [call] = final.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments) == ("get_time", "{}")
    assert final.choices[0].finish_reason == "tool_calls"
