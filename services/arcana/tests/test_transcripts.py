"""Export/import, generated titles and feedback (issue 21)."""

from __future__ import annotations

import uuid

from vareon_arcana.titles import title_for

from .conftest import eventually, target
from .test_branches import ask
from .test_chat import seed

BASE = "/api/v1/arcana/sessions"


async def test_export_round_trips_through_import_with_the_tree_receipts_and_feedback(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"export-{uuid.uuid4().hex[:6]}", words=["fine"])
    category = await seed(publish, db, targets=[target(model)])
    sid = (await client.post(BASE, headers=me, json={"category": category})).json()["id"]
    first = await ask(client, me, f"{BASE}/{sid}/messages", {"content": "Hello, how are you?"})
    answer = first["receipt"]["message_id"]
    await ask(client, me, f"{BASE}/{sid}/messages/{answer}/regenerate", {})
    rated = await client.put(
        f"{BASE}/{sid}/messages/{answer}/feedback",
        headers=me,
        json={"rating": "up", "comment": "nice"},
    )
    assert rated.status_code == 200 and rated.json()["feedback_rating"] == "up"

    async def titled():
        session = (await client.get(f"{BASE}/{sid}", headers=me)).json()
        return session["title"] == "How are you"  # named after the first exchange, offline

    await eventually(titled, timeout_s=30)

    exported = (await client.get(f"{BASE}/{sid}/export?tree=true", headers=me)).json()
    assert len(exported["messages"]) == 3 and exported["tree"] is True
    assert exported["messages"][1]["receipt"]["model"] == model
    assert exported["messages"][1]["feedback"] == {"rating": "up", "comment": "nice"}
    active = (await client.get(f"{BASE}/{sid}/export", headers=me)).json()
    assert len(active["messages"]) == 2
    markdown = await client.get(f"{BASE}/{sid}/export?format=markdown&tree=true", headers=me)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "# How are you" in markdown.text and "(after 1)" in markdown.text

    imported = await client.post(f"{BASE}/import", headers=me, json=exported)
    assert imported.status_code == 201, imported.text
    new = imported.json()["id"]
    again = (await client.get(f"{BASE}/{new}/export?tree=true", headers=me)).json()

    def shape(t):
        ids = {m["id"]: n for n, m in enumerate(t["messages"])}
        return [
            (ids.get(m["parent_id"]), m["role"], m["content"], m["receipt"], m["feedback"])
            for m in t["messages"]
        ] + [ids[t["current_id"]]]

    for m in again["messages"] + exported["messages"]:
        if m["receipt"]:
            m["receipt"]["usage_id"] = None  # an import charged nothing
    assert shape(again) == shape(exported)
    assert again["session"]["title"] == "How are you"

    broken = exported | {"messages": [exported["messages"][1]]}
    refused = await client.post(f"{BASE}/import", headers=me, json=broken)
    assert refused.status_code == 422 and refused.json()["type"].endswith("invalid-transcript")
    other = signing_key.headers(uuid.uuid4())
    assert (await client.get(f"{BASE}/{sid}/export", headers=other)).status_code == 404


async def test_a_given_title_is_kept_and_feedback_is_for_answers_only(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"title-{uuid.uuid4().hex[:6]}", words=["fine"])
    category = await seed(publish, db, targets=[target(model)])
    sid = (await client.post(BASE, headers=me, json={"category": category})).json()["id"]
    renamed = await client.put(f"{BASE}/{sid}/title", headers=me, json={"title": "Mine"})
    assert renamed.status_code == 200
    reply = await ask(client, me, f"{BASE}/{sid}/messages", {"content": "What is a fox?"})
    assert (await client.get(f"{BASE}/{sid}", headers=me)).json()["title"] == "Mine"
    branch = (await client.get(f"{BASE}/{sid}/messages", headers=me)).json()["items"]
    question = branch[0]["id"]
    bad = await client.put(
        f"{BASE}/{sid}/messages/{question}/feedback", headers=me, json={"rating": "down"}
    )
    assert bad.status_code == 404
    answer = reply["receipt"]["message_id"]
    path = f"{BASE}/{sid}/messages/{answer}/feedback"
    assert (await client.put(path, headers=me, json={"rating": "sideways"})).status_code == 422
    assert (await client.put(path, headers=me, json={"rating": "down"})).status_code == 200
    assert (await client.delete(path, headers=me)).status_code == 204
    branch = (await client.get(f"{BASE}/{sid}/messages", headers=me)).json()["items"]
    assert branch[1]["feedback_rating"] is None


def test_titles_are_deterministic_and_short():
    assert title_for("Hi! Can you explain quantum computing to me, simply?") == (
        "Explain quantum computing to me"
    )
    assert title_for("hello") == "Hello" and title_for("?!") == "New chat"
    assert title_for(" ".join(["word"] * 30)) == " ".join(["Word"] + ["word"] * 6)
