"""Each routed call leaves a routing sample (the rules' inputs, no text); erasure removes them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from vareon_arcana import routing_samples
from vareon_arcana.models import RoutingRuleReplica, RoutingSample
from vareon_chassis.testing.fake_openai import PROMPT_TOKENS
from vareon_contracts import topics
from vareon_contracts.events.cognisys import RoutingRuleChangedV1, RuleConditions
from vareon_contracts.events.identity import UserDeletedV1
from vareon_routing.samples import pattern_term

from .conftest import eventually, target

PATTERN = r"\bbug-\d+"


async def routed_to(
    publish, db, model: str, fallback: str = "unused"
) -> tuple[str, RoutingRuleChangedV1]:
    category = f"cat-{uuid.uuid4().hex[:8]}"
    event = RoutingRuleChangedV1(
        rule_id=uuid.uuid4(),
        revision=1,
        name=f"rule-{category}",
        priority=100,
        enabled=True,
        is_default=False,
        conditions=RuleConditions(categories=[category], keywords=["Python"], pattern=PATTERN),
        targets=[target(model), target(fallback)],
        changed_at=datetime.now(UTC),
    )
    await publish(event)

    async def seen():
        async with db() as s:
            return await s.get(RoutingRuleReplica, event.rule_id)

    await eventually(seen)
    return category, event


async def ask(client, headers, category: str, content: str) -> dict:
    sid = (
        await client.post("/api/v1/arcana/sessions", headers=headers, json={"category": category})
    ).json()["id"]
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers={**headers, "Accept": "application/json"},
        json={"content": content, "stream": False},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def samples_of(db, user: uuid.UUID) -> list[RoutingSample]:
    async with db() as s:
        return list(await s.scalars(select(RoutingSample).where(RoutingSample.user_id == user)))


async def test_a_routed_call_records_what_the_rules_read_and_erasure_removes_it(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(f"free-{uuid.uuid4().hex[:6]}", words=["ok"])
    category, rule = await routed_to(publish, db, model)
    question = "I write python daily; see bug-42 for the crash"
    await ask(client, me, category, question)

    [row] = await samples_of(db, user)
    assert row.category == category
    assert row.length == len(question)
    assert set(row.terms) == {"python", pattern_term(PATTERN)}
    assert row.text_complete
    assert row.rule_id == rule.rule_id
    assert (row.first_model, row.model, row.fell_back) == (model, model, False)
    assert row.tokens_in == PROMPT_TOKENS and row.tokens_out == 1

    [event] = await event_log.wait_for(
        topics.ARCANA_ROUTING_SAMPLE, lambda e: e.data["user_id"] == str(user)
    )
    assert event.data["sample_id"] == str(row.id)
    assert "bug-42" not in json.dumps(event.data) and "crash" not in json.dumps(event.data)

    erased = await publish(UserDeletedV1(user_id=user, deleted_at=datetime.now(UTC)))
    await event_log.consumed("arcana.users", topics.IDENTITY_USER, lambda e: e.id == erased.id)
    assert await samples_of(db, user) == []
    # A call of the erased user's token settling afterwards records nothing.
    await ask(client, me, category, "python again")
    async with db() as s:
        assert await routing_samples.count(s, user) == 0


async def test_a_call_that_fell_back_says_so(client, signing_key, publish, db, fake):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    broken = server.behave(f"down-{uuid.uuid4().hex[:6]}", kind="error")
    second = server.behave(f"second-{uuid.uuid4().hex[:6]}", words=["fine"])
    category, _ = await routed_to(publish, db, broken, second)
    await ask(client, me, category, "python bug-7")
    [row] = await samples_of(db, user)
    assert (row.first_model, row.model, row.fell_back) == (broken, second, True)


async def test_a_call_no_rule_took_is_sampled_with_no_rule(client, signing_key, publish, db):
    user = uuid.uuid4()
    category, _ = await routed_to(publish, db, "never")
    await ask(client, signing_key.headers(user), category, "python, but no ticket")
    [row] = await samples_of(db, user)
    assert row.rule_id is None and row.terms == ["python"]
    assert (row.first_provider, row.model) == ("offline", "vareon-offline-1")
