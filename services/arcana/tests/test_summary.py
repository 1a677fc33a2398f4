"""The dashboard's arcana section: the caller's chats this month; platform totals."""

import uuid

from .conftest import target
from .test_chat import new_session, seed
from .test_personas import PERSONAS, persona_body, say

SUMMARY = "/api/v1/arcana/summary"


async def test_a_users_chats_this_month_and_platform_totals(client, signing_key, publish, db, fake):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"sum-{uuid.uuid4().hex[:6]}", words=["ok"])
    category = await seed(publish, db, targets=[target(model)])
    sid = await new_session(client, me, category)
    await say(client, me, sid)
    await client.post(PERSONAS, headers=me, json=persona_body(category))

    mine = (await client.get(SUMMARY, headers=me)).json()
    assert mine["scope"] == "user"
    assert (mine["sessions"], mine["sessions_this_month"], mine["messages_this_month"]) == (1, 1, 2)
    assert mine["personas"] == 1 and mine["credits_spent_this_month"] == 0
    assert [r["id"] for r in mine["recent"]] == [sid]
    assert mine["active_users_this_month"] is None

    platform = {"scope": "platform"}
    assert (await client.get(SUMMARY, params=platform, headers=me)).status_code == 403
    admin = signing_key.headers(uuid.uuid4(), "system:read")
    totals = (await client.get(SUMMARY, params=platform, headers=admin)).json()
    assert totals["sessions"] >= 1 and totals["active_users_this_month"] >= 1
    assert totals["recent"] == []
