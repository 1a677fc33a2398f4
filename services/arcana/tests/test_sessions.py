from __future__ import annotations

import uuid


async def _create(client, headers, category="general", title="Chat"):
    response = await client.post(
        "/api/v1/arcana/sessions", headers=headers, json={"category": category, "title": title}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_sessions_crud_and_pagination(client, signing_key):
    me = signing_key.headers(uuid.uuid4())
    created = [await _create(client, me, title=f"Chat {i}") for i in range(3)]

    first = (await client.get("/api/v1/arcana/sessions?limit=2", headers=me)).json()
    assert [s["title"] for s in first["items"]] == ["Chat 2", "Chat 1"]
    rest = (
        await client.get(
            f"/api/v1/arcana/sessions?limit=2&cursor={first['next_cursor']}", headers=me
        )
    ).json()
    assert [s["title"] for s in rest["items"]] == ["Chat 0"] and rest["next_cursor"] is None

    sid = created[0]["id"]
    notes = await client.put(
        f"/api/v1/arcana/sessions/{sid}/notes", headers=me, json={"notes": "remember the milk"}
    )
    assert notes.status_code == 200 and notes.json()["notes"] == "remember the milk"
    got = await client.get(f"/api/v1/arcana/sessions/{sid}", headers=me)
    assert got.json()["category"] == "general" and got.json()["notes"] == "remember the milk"
    history = await client.get(f"/api/v1/arcana/sessions/{sid}/history", headers=me)
    assert history.json() == {"items": [], "next_cursor": None}

    assert (await client.delete(f"/api/v1/arcana/sessions/{sid}", headers=me)).status_code == 204
    gone = await client.get(f"/api/v1/arcana/sessions/{sid}", headers=me)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")


async def test_only_the_owner_sees_or_touches_a_session(client, signing_key):
    owner, other = signing_key.headers(uuid.uuid4()), signing_key.headers(uuid.uuid4())
    sid = (await _create(client, owner))["id"]
    for method, path, body in [
        ("GET", f"/api/v1/arcana/sessions/{sid}", None),
        ("GET", f"/api/v1/arcana/sessions/{sid}/history", None),
        ("PUT", f"/api/v1/arcana/sessions/{sid}/notes", {"notes": "mine now"}),
        ("POST", f"/api/v1/arcana/sessions/{sid}/messages", {"content": "hi", "stream": False}),
        ("DELETE", f"/api/v1/arcana/sessions/{sid}", None),
    ]:
        response = await client.request(method, path, headers=other, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get("/api/v1/arcana/sessions", headers=other)).json()["items"] == []
    still = await client.get(f"/api/v1/arcana/sessions/{sid}", headers=owner)
    assert still.status_code == 200 and still.json()["notes"] == ""


async def test_bad_cursor_and_no_token_are_problems(client, signing_key):
    me = signing_key.headers(uuid.uuid4())
    bad = await client.get("/api/v1/arcana/sessions?cursor=%%%", headers=me)
    assert bad.status_code == 422
    assert (await client.get("/api/v1/arcana/sessions")).status_code == 401


async def test_demo_needs_no_account_is_free_and_rate_limited(client, settings):
    allowed = int(settings.demo_limit.split("/")[0])
    for _ in range(allowed):
        response = await client.post("/api/v1/arcana/chat/demo", json={"message": "hello?"})
        assert response.status_code == 200, response.text
        assert response.json()["receipt"]["cost"] == 0
        assert response.json()["receipt"]["model"] == "vareon-offline-1"
    refused = await client.post("/api/v1/arcana/chat/demo", json={"message": "hello?"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


async def test_lists_take_the_chassis_page_size(client, signing_key):
    me = signing_key.headers(uuid.uuid4())
    sid = (await _create(client, me))["id"]
    for path in (
        "/api/v1/arcana/sessions",
        f"/api/v1/arcana/sessions/{sid}/history",
        "/api/v1/arcana/personas",
    ):
        assert (await client.get(f"{path}?limit=200", headers=me)).status_code == 200, path
        for bad in (0, 201):
            refused = await client.get(f"{path}?limit={bad}", headers=me)
            assert refused.status_code == 422, (path, bad)
