"""The message tree (issue 21): edit and regenerate make siblings, the active branch is what
the next reply sees, and the migration turns a linear history into a chain."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from vareon_chassis.db import create_engine

from .conftest import ALEMBIC_INI, target
from .test_chat import new_session, seed

BASE = "/api/v1/arcana/sessions"


async def ask(client, me, path, body) -> dict[str, Any]:
    response = await client.post(path, headers=me, json={"stream": False, **body})
    assert response.status_code == 200, response.text
    return response.json()


def sent_to(server, model) -> str:
    """Everything the last request to ``model`` carried, as one text."""
    body = [b for b in server.requests if b["model"] == model][-1]
    return "\n".join(m["content"] for m in body["messages"])


async def test_edit_and_regenerate_make_siblings_and_the_active_branch_is_the_context(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"tree-{uuid.uuid4().hex[:6]}", words=["ok"])
    other = server.behave(f"tree-other-{uuid.uuid4().hex[:6]}", words=["other"])
    category = await seed(publish, db, targets=[target(model), target(other)])
    sid = await new_session(client, me, category)
    messages = f"{BASE}/{sid}/messages"

    await ask(client, me, messages, {"content": "Hello there."})
    ada = await ask(client, me, messages, {"content": "My name is Ada."})
    branch = (await client.get(messages, headers=me)).json()
    q1, a1, q_ada, a_ada = branch["items"]
    assert [m["role"] for m in branch["items"]] == ["user", "assistant", "user", "assistant"]
    assert branch["current_id"] == a_ada["id"] == ada["receipt"]["message_id"]
    assert a1["parent_id"] == q1["id"] and q_ada["parent_id"] == a1["id"]

    bob = await ask(client, me, f"{messages}/{q_ada['id']}/edit", {"content": "My name is Bob."})
    branch = (await client.get(messages, headers=me)).json()["items"]
    assert [m["content"] for m in branch] == ["Hello there.", "ok", "My name is Bob.", "ok"]
    assert (branch[2]["siblings"], branch[2]["sibling_index"]) == (2, 1)
    assert branch[2]["parent_id"] == a1["id"] and branch[3]["id"] == bob["receipt"]["message_id"]

    again = await ask(client, me, f"{messages}/{branch[3]['id']}/regenerate", {"model": other})
    assert again["content"] == "other" and again["receipt"]["model"] == other
    branch = (await client.get(messages, headers=me)).json()["items"]
    assert branch[-1]["id"] == again["receipt"]["message_id"]
    assert (branch[-1]["siblings"], branch[-1]["sibling_index"]) == (2, 1)
    assert branch[-1]["parent_id"] == branch[2]["id"]

    await ask(client, me, messages, {"content": "What is my name?"})
    seen = sent_to(server, model)
    assert "My name is Bob." in seen and "Ada" not in seen

    switched = await client.put(
        f"{BASE}/{sid}/current", headers=me, json={"message_id": q_ada["id"]}
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["current_id"] == a_ada["id"]
    await ask(client, me, messages, {"content": "And now?"})
    seen = sent_to(server, model)
    assert "My name is Ada." in seen and "Bob" not in seen

    tree = (await client.get(f"{BASE}/{sid}/tree", headers=me)).json()["items"]
    assert len(tree) == 11  # 2 + 2 (Ada), the edit's 2 (Bob), the regenerated 1, 2 + 2 more
    roots = [m for m in tree if m["parent_id"] is None]
    assert [m["id"] for m in roots] == [q1["id"]]


async def test_tree_routes_are_the_owners_only_and_unknown_messages_are_404(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    owner, other = signing_key.headers(uuid.uuid4()), signing_key.headers(uuid.uuid4())
    model = server.behave(f"tree-{uuid.uuid4().hex[:6]}", words=["ok"])
    category = await seed(publish, db, targets=[target(model)])
    sid = await new_session(client, owner, category)
    reply = await ask(client, owner, f"{BASE}/{sid}/messages", {"content": "hi"})
    answer = reply["receipt"]["message_id"]
    for method, path, body in [
        ("GET", f"{BASE}/{sid}/messages", None),
        ("GET", f"{BASE}/{sid}/tree", None),
        ("PUT", f"{BASE}/{sid}/current", {"message_id": answer}),
        ("POST", f"{BASE}/{sid}/messages/{answer}/regenerate", {"stream": False}),
    ]:
        response = await client.request(method, path, headers=other, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # an answer is not a question to edit, nor a question an answer to regenerate
    edit = await client.post(
        f"{BASE}/{sid}/messages/{answer}/edit", headers=owner, json={"content": "x"}
    )
    assert edit.status_code == 404 and edit.json()["type"].endswith("message-not-found")
    unknown = await client.put(
        f"{BASE}/{sid}/current", headers=owner, json={"message_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404


async def test_the_migration_makes_a_linear_history_a_chain(infrastructure):
    url = await asyncio.to_thread(infrastructure.create_database, "arcana_tree")
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url
    await asyncio.to_thread(command.upgrade, config, "0006")
    engine = create_engine(url, pool_size=1, max_overflow=0)
    chat = uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO chat_sessions (id, user_id, title, category) "
                    "VALUES (:id, :user, 't', 'general')"
                ),
                {"id": chat, "user": uuid.uuid4()},
            )
            for i in range(4):
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, session_id, role, content) "
                        "VALUES (:id, :chat, :role, :content)"
                    ),
                    {"id": uuid.uuid4(), "chat": chat, "role": "user", "content": f"m{i}"},
                )
        await asyncio.to_thread(command.upgrade, config, "0007")
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    text("SELECT id, parent_id FROM messages WHERE session_id = :c ORDER BY seq"),
                    {"c": chat},
                )
            ).all()
            current = await conn.scalar(
                text("SELECT current_id FROM chat_sessions WHERE id = :c"), {"c": chat}
            )
    finally:
        await engine.dispose()
    assert [r.parent_id for r in rows] == [None, *(r.id for r in rows[:-1])]
    assert current == rows[-1].id
