"""Personas: private/shared, versioned, chatting through the routed path; erased with the user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from vareon_arcana.models import Persona, PersonaVersion
from vareon_contracts import topics
from vareon_contracts.events.identity import UserDeletedV1

from .conftest import target
from .test_chat import seed

PERSONAS = "/api/v1/arcana/personas"


def persona_body(category: str, **fields) -> dict:
    return {
        "slug": f"pirate-{uuid.uuid4().hex[:6]}",
        "name": "Pirate",
        "system_prompt": "You are a pirate. Say arr.",
        "category": category,
        "temperature": 0.3,
        "max_tokens": 50,
        "starters": ["Where be the treasure?"],
    } | fields


async def say(client, headers, sid: str, content: str = "ahoy") -> dict:
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=headers,
        json={"content": content, "stream": False},
    )
    assert response.status_code == 200, response.text
    return response.json()


def last_request(server, model: str) -> dict:
    return [r for r in server.requests if r["model"] == model][-1]


async def test_a_persona_answers_through_the_routed_call_and_sessions_keep_their_version(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    owner = signing_key.headers(uuid.uuid4())
    model = server.behave(f"persona-{uuid.uuid4().hex[:6]}", words=["arr"])
    category = await seed(publish, db, targets=[target(model)])

    created = await client.post(PERSONAS, headers=owner, json=persona_body(category))
    assert created.status_code == 201, created.text
    persona = created.json()
    assert persona["version"] == 1 and persona["visibility"] == "private" and persona["mine"]

    started = await client.post(f"{PERSONAS}/{persona['id']}/sessions", headers=owner, json={})
    assert started.status_code == 201, started.text
    first = started.json()
    assert first["version"] == 1 and first["category"] == category
    assert first["starters"] == ["Where be the treasure?"]
    reply = await say(client, owner, first["session_id"])
    assert reply["receipt"]["model"] == model
    sent = last_request(server, model)
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][0]["content"].startswith("You are a pirate. Say arr.")
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50

    edited = await client.patch(
        f"{PERSONAS}/{persona['id']}",
        headers=owner,
        json={"system_prompt": "You are a polite pirate.", "temperature": None},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    # The old session keeps version 1; a new one gets version 2.
    await say(client, owner, first["session_id"], "again")
    assert last_request(server, model)["messages"][0]["content"].startswith("You are a pirate.")
    second = (
        await client.post(f"{PERSONAS}/{persona['id']}/sessions", headers=owner, json={})
    ).json()
    assert second["version"] == 2
    await say(client, owner, second["session_id"])
    sent = last_request(server, model)
    assert sent["messages"][0]["content"].startswith("You are a polite pirate.")
    assert "temperature" not in sent

    versions = (await client.get(f"{PERSONAS}/{persona['id']}/versions", headers=owner)).json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    # A change to nothing adds no version.
    same = await client.patch(f"{PERSONAS}/{persona['id']}", headers=owner, json={"name": "Pirate"})
    assert same.json()["version"] == 2


async def test_a_persona_naming_a_model_is_answered_by_it_first(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    routed = server.behave(f"routed-{uuid.uuid4().hex[:6]}", words=["no"])
    pinned = server.behave(f"pinned-{uuid.uuid4().hex[:6]}", words=["yes"])
    category = await seed(publish, db, targets=[target(routed), target(pinned)])
    persona = (
        await client.post(PERSONAS, headers=me, json=persona_body(category, model=pinned))
    ).json()
    sid = (await client.post(f"{PERSONAS}/{persona['id']}/sessions", headers=me, json={})).json()
    reply = await say(client, me, sid["session_id"])
    assert reply["receipt"]["model"] == pinned


async def test_private_personas_are_their_owners_and_sharing_needs_a_permission(
    client, signing_key
):
    alice, bob = signing_key.headers(uuid.uuid4()), signing_key.headers(uuid.uuid4())
    mine = (await client.post(PERSONAS, headers=alice, json=persona_body("general"))).json()
    assert (await client.get(f"{PERSONAS}/{mine['id']}", headers=bob)).status_code == 404
    listed = (await client.get(PERSONAS, headers=bob, params={"limit": 100})).json()
    assert mine["id"] not in {p["id"] for p in listed["items"]}
    assert (
        await client.post(f"{PERSONAS}/{mine['id']}/sessions", headers=bob, json={})
    ).status_code == 404

    shared_body = persona_body("general", visibility="shared")
    refused = await client.post(PERSONAS, headers=alice, json=shared_body)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/persona-sharing-forbidden")
    curator = signing_key.headers(uuid.uuid4(), "personas:share")
    shared = (await client.post(PERSONAS, headers=curator, json=shared_body)).json()
    seen = await client.get(f"{PERSONAS}/{shared['id']}", headers=bob)
    assert seen.status_code == 200 and not seen.json()["mine"]
    # Others may use a shared persona, not change it.
    patch = {"name": "mine now"}
    assert (
        await client.patch(f"{PERSONAS}/{shared['id']}", headers=bob, json=patch)
    ).status_code == 404
    assert (
        await client.post(f"{PERSONAS}/{shared['id']}/sessions", headers=bob, json={})
    ).status_code == 201

    again = await client.post(PERSONAS, headers=alice, json=persona_body("x", slug=mine["slug"]))
    assert again.status_code == 409
    assert again.json()["type"].endswith("/persona-slug-taken")
    gone = await client.delete(f"{PERSONAS}/{mine['id']}", headers=alice)
    assert gone.status_code == 204
    assert (await client.get(f"{PERSONAS}/{mine['id']}", headers=alice)).status_code == 404


async def test_erasure_removes_a_users_personas_and_their_versions(
    client, signing_key, publish, db, event_log
):
    user = uuid.uuid4()
    me = signing_key.headers(user)
    made = (await client.post(PERSONAS, headers=me, json=persona_body("general"))).json()
    await client.patch(f"{PERSONAS}/{made['id']}", headers=me, json={"name": "v2"})

    erased = await publish(UserDeletedV1(user_id=user, deleted_at=datetime.now(UTC)))
    await event_log.consumed("arcana.users", topics.IDENTITY_USER, lambda e: e.id == erased.id)
    async with db() as s:
        owned = await s.scalar(
            select(func.count()).select_from(Persona).where(Persona.owner_id == user)
        )
        versions = await s.scalar(
            select(func.count())
            .select_from(PersonaVersion)
            .where(PersonaVersion.persona_id == uuid.UUID(made["id"]))
        )
    assert owned == 0 and versions == 0


async def test_the_openai_api_answers_as_a_persona_and_lists_the_usable_ones(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"oa-persona-{uuid.uuid4().hex[:6]}", words=["arr"])
    category = await seed(publish, db, targets=[target(model)])
    persona = (await client.post(PERSONAS, headers=me, json=persona_body(category))).json()
    name = f"persona:{persona['slug']}"

    listed = await client.get("/v1/models", headers=me)
    assert listed.status_code == 200, listed.text
    assert name in {m["id"] for m in listed.json()["data"]}
    answer = await client.post(
        "/v1/chat/completions",
        headers=me,
        json={"model": name, "messages": [{"role": "user", "content": "ahoy"}]},
    )
    assert answer.status_code == 200, answer.text
    sent = last_request(server, model)
    assert sent["messages"][0] == {"role": "system", "content": "You are a pirate. Say arr."}
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50
    other = signing_key.headers(uuid.uuid4())
    hidden = await client.post(
        "/v1/chat/completions",
        headers=other,
        json={"model": name, "messages": [{"role": "user", "content": "ahoy"}]},
    )
    assert hidden.status_code == 404


async def test_starting_a_chat_with_a_persona_is_idempotent_per_key(client, signing_key):
    me = signing_key.headers(uuid.uuid4())
    persona = (await client.post(PERSONAS, headers=me, json=persona_body("general"))).json()
    other = (await client.post(PERSONAS, headers=me, json=persona_body("general"))).json()
    keyed = {**me, "Idempotency-Key": "start-1"}
    url = f"{PERSONAS}/{persona['id']}/sessions"
    first, again = [await client.post(url, headers=keyed, json={}) for _ in range(2)]
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    fresh = await client.post(url, headers=me, json={})
    assert fresh.json()["session_id"] != first.json()["session_id"]
    # Someone else's same key is theirs.
    theirs = {**signing_key.headers(uuid.uuid4()), "Idempotency-Key": "start-1"}
    shared_persona = await client.post(url, headers=theirs, json={})
    assert shared_persona.status_code == 404  # private: not theirs to use
    reused = await client.post(f"{PERSONAS}/{other['id']}/sessions", headers=keyed, json={})
    assert reused.status_code == 409
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    listed = (await client.get("/api/v1/arcana/sessions", headers=me)).json()["items"]
    assert len(listed) == 2
