"""Resumable replies (issue 21): a reply outlives its request for a grace period, watchers
resume with Last-Event-ID and get every chunk exactly once, cancel stops and bills once."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from vareon_arcana.settings import ArcanaSettings
from vareon_contracts import topics

from .conftest import target
from .test_chat import PRICE_IN, PRICE_OUT, new_session, seed, usage_published

BASE = "/api/v1/arcana/sessions"


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    return settings.model_copy(update={"stream_grace_s": 60.0})


async def events(lines, *, chunks: int | None = None) -> list[dict[str, Any]]:
    """The SSE events (``id``, ``event``, ``data``) of a response's lines (an iterator, or the
    response); stop after ``chunks``."""
    if hasattr(lines, "aiter_lines"):
        lines = lines.aiter_lines()
    out: list[dict[str, Any]] = []
    block: dict[str, Any] = {}
    async for line in lines:
        if line:
            field, _, value = line.partition(": ")
            block[field] = json.loads(value) if field == "data" else value
            continue
        if block:
            out.append(block)
            block = {}
            if chunks is not None and sum(e["event"] == "chunk" for e in out) == chunks:
                break
    return out


async def paid_session(client, signing_key, publish, db, fake, *, words, delay_s):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(f"live-{uuid.uuid4().hex[:6]}", delay_s=delay_s, words=words)
    category = await seed(
        publish,
        db,
        user_id=user,
        available=10_000_000,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    return user, me, model, await new_session(client, me, category)


async def test_a_dropped_client_resumes_with_last_event_id_and_is_charged_once(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    words = [f"w{i}" for i in range(15)]
    user, me, model, sid = await paid_session(
        client, signing_key, publish, db, fake, words=words, delay_s=0.15
    )
    async with client.stream(
        "POST", f"{BASE}/{sid}/messages", headers=me, json={"content": "a story please"}
    ) as response:
        assert response.status_code == 200
        message_id = response.headers["x-vareon-message-id"]
        before = await events(response, chunks=3)  # then hang up mid-answer

    stream_url = f"{BASE}/{sid}/messages/{message_id}/stream"
    last = before[-1]["id"]
    async with (
        client.stream("GET", stream_url, headers={**me, "Last-Event-ID": last}) as resumed,
        client.stream("GET", stream_url, headers=me) as another,  # a second watcher, from 0
    ):
        after, everything = await asyncio.gather(events(resumed), events(another))

    text = " ".join(words)
    chunks = [e for e in before + after if e["event"] == "chunk"]
    assert "".join(e["data"]["delta"] for e in chunks) == text  # every chunk, exactly once
    ids = [int(e["id"]) for e in chunks]
    assert ids == sorted(set(ids)) and ids[-1] == len(text)
    assert after[-1]["event"] == "done" and everything[-1]["event"] == "done"
    assert "".join(e["data"]["delta"] for e in everything if e["event"] == "chunk") == text
    receipt = after[-1]["data"]["receipt"]
    assert receipt["message_id"] == message_id and receipt["status"] == "completed"
    assert everything[-1]["data"]["receipt"] == receipt

    upstream = next(s for s in server.streams if s.model == model)
    assert upstream.finished and not upstream.cancelled  # the call went on without a reader
    usage = await event_log.wait_for(topics.ARCANA_USAGE, lambda e: e.data["user_id"] == str(user))
    assert usage[0].data["usage_id"] == receipt["usage_id"]
    assert await usage_published(db, user) == 1

    # ended: replayed from the stored message, after any offset
    async with client.stream("GET", stream_url, headers={**me, "Last-Event-ID": "3"}) as late:
        replay = await events(late)
    assert replay[0]["data"]["delta"] == text[3:] and replay[-1]["data"]["receipt"] == receipt
    stranger = signing_key.headers(uuid.uuid4())
    assert (await client.get(stream_url, headers=stranger)).status_code == 404


async def test_cancel_stops_the_provider_and_bills_what_was_produced(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    user, me, model, sid = await paid_session(
        client, signing_key, publish, db, fake, words=[f"w{i}" for i in range(40)], delay_s=0.2
    )
    async with client.stream(
        "POST", f"{BASE}/{sid}/messages", headers=me, json={"content": "a long story"}
    ) as response:
        message_id = response.headers["x-vareon-message-id"]
        lines = response.aiter_lines()
        first = await events(lines, chunks=1)
        cancelled = await client.post(f"{BASE}/{sid}/messages/{message_id}/cancel", headers=me)
        rest = await events(lines)
    assert cancelled.status_code == 200, cancelled.text
    receipt = cancelled.json()
    assert receipt["status"] == "cancelled" and 1 <= receipt["tokens_out"] < 40
    assert rest[-1]["event"] == "error" and rest[-1]["data"]["receipt"] == receipt
    text = "".join(e["data"]["delta"] for e in first + rest if e["event"] == "chunk")
    upstream = next(s for s in server.streams if s.model == model)
    assert upstream.cancelled and not upstream.finished

    stored = await client.get(f"{BASE}/{sid}/messages", headers=me)
    assert stored.json()["items"][-1]["content"] == text
    assert stored.json()["items"][-1]["status"] == "cancelled"
    usage = await event_log.wait_for(topics.ARCANA_USAGE, lambda e: e.data["user_id"] == str(user))
    assert usage[0].data["cost"] == receipt["cost"]
    assert await usage_published(db, user) == 1
    again = await client.post(f"{BASE}/{sid}/messages/{message_id}/cancel", headers=me)
    assert again.status_code == 200 and again.json() == receipt  # it already ended: as it is
    unknown = await client.post(f"{BASE}/{sid}/messages/{uuid.uuid4()}/cancel", headers=me)
    assert unknown.status_code == 404
