"""Searching your own messages (issue 21): full text, ranked, phrases and prefixes, snippets,
cursor pages, language-aware; never others' messages, nothing after deletion."""

from __future__ import annotations

import uuid

from .conftest import target
from .test_branches import ask
from .test_chat import seed

BASE = "/api/v1/arcana"


async def chat_with(client, me, category, *questions, language="english"):
    created = await client.post(
        f"{BASE}/sessions", headers=me, json={"category": category, "language": language}
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    for question in questions:
        await ask(client, me, f"{BASE}/sessions/{sid}/messages", {"content": question})
    return sid


async def found(client, me, q, **params):
    response = await client.get(f"{BASE}/search", headers=me, params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_search_finds_own_messages_ranked_with_phrases_prefixes_and_pages(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me, other = signing_key.headers(uuid.uuid4()), signing_key.headers(uuid.uuid4())
    model = server.behave(f"search-{uuid.uuid4().hex[:6]}", words=["ok"])
    category = await seed(publish, db, targets=[target(model)])
    sid = await chat_with(
        client,
        me,
        category,
        "One fox crossed the road.",
        "The fox, the fox and another fox: foxes everywhere.",
        "The quick brown fox was hunting rabbits.",
    )
    await chat_with(client, other, category, "My fox is not yours.")

    hits = (await found(client, me, "fox"))["items"]
    assert len(hits) == 3 and {h["session_id"] for h in hits} == {sid}
    assert hits[0]["snippet"].count("«") >= 3 and "foxes" in hits[0]["snippet"]
    assert [h["rank"] for h in hits] == sorted((h["rank"] for h in hits), reverse=True)
    assert hits[0]["rank"] > hits[-1]["rank"]

    phrase = (await found(client, me, '"brown fox"'))["items"]
    assert len(phrase) == 1 and "«brown» «fox»" in phrase[0]["snippet"]
    assert len((await found(client, me, "hunt*"))["items"]) == 1
    assert len((await found(client, me, "fox -road"))["items"]) == 2
    assert (await found(client, me, "yours"))["items"] == []  # the other user's words

    first = await found(client, me, "fox", limit=2)
    rest = await found(client, me, "fox", limit=2, cursor=first["next_cursor"])
    paged = [h["message_id"] for h in first["items"] + rest["items"]]
    assert paged == [h["message_id"] for h in hits] and rest["next_cursor"] is None
    bad = await client.get(f"{BASE}/search", headers=me, params={"q": "fox", "cursor": "x"})
    assert bad.status_code == 422

    assert (await client.delete(f"{BASE}/sessions/{sid}", headers=me)).status_code == 204
    assert (await found(client, me, "fox"))["items"] == []
    assert len((await found(client, other, "fox"))["items"]) == 1


async def test_search_stems_in_the_sessions_language(client, signing_key, publish, db, fake):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"search-{uuid.uuid4().hex[:6]}", words=["ok"])
    category = await seed(publish, db, targets=[target(model)])
    await chat_with(client, me, category, "Die Hunde spielen im Garten.", language="german")
    await chat_with(client, me, category, "The dogs were playing outside.")
    assert len((await found(client, me, "Hund"))["items"]) == 1
    assert len((await found(client, me, "dog"))["items"]) == 1
    refused = await client.post(
        f"{BASE}/sessions", headers=me, json={"category": category, "language": "klingon"}
    )
    assert refused.status_code == 422
