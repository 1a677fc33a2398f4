"""Every change reaches the real topic, and the topic alone rebuilds the rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import jsonschema
import psycopg
from vareon_contracts.events.cognisys import RoutingRuleChangedV1
from vareon_contracts.topics import COGNISYS_ROUTING_RULE
from vareon_routing import RuleBook

from .conftest import DEFAULT_RULE_ID, RULES, rule_body

SCHEMA = (
    Path(__file__).resolve().parents[3]
    / "libs"
    / "contracts"
    / "schemas"
    / f"{RoutingRuleChangedV1.event_type}.json"
)


async def _published_ids(database_url: str) -> set[str]:
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (await conn.execute("SELECT event_id::text FROM outbox")).fetchall()
    return {row[0] for row in rows}


async def test_every_change_is_published_with_increasing_revisions(client, admin, event_log):
    rule = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    url = f"{RULES}/{rule['id']}"
    await client.patch(url, json={"priority": 7}, headers=admin)
    await client.put(url, json=rule_body(name="again"), headers=admin)
    assert (await client.delete(url, headers=admin)).status_code == 204

    events = await event_log.wait_for(
        COGNISYS_ROUTING_RULE, lambda e: e.subject == rule["id"], count=4
    )
    schema = json.loads(SCHEMA.read_text())
    for envelope in events:  # what goes out matches the committed contract
        jsonschema.validate(envelope.data, schema)
    payloads = [RoutingRuleChangedV1.model_validate(e.data) for e in events]
    assert [p.revision for p in payloads] == [1, 2, 3, 4]
    assert [p.deleted for p in payloads] == [False, False, False, True]
    assert [p.priority for p in payloads] == [100, 7, 100, 100]
    assert payloads[3].name == "again"  # the tombstone carries the last state
    assert {e.type for e in events} == {RoutingRuleChangedV1.event_type}
    assert {e.source for e in events} == {"vareon-cognisys"}


async def test_a_replica_rebuilt_from_the_topic_equals_the_api(
    client, admin, event_log, database_url
):
    kept = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    gone = (await client.post(RULES, json=rule_body(priority=3), headers=admin)).json()
    await client.patch(
        f"{RULES}/{kept['id']}",
        json={"conditions": {"pattern": r"\bbug-\d+", "active_from": "08:00:00"}},
        headers=admin,
    )
    await client.patch(f"{RULES}/{DEFAULT_RULE_ID}", json={"name": "fallback"}, headers=admin)
    await client.delete(f"{RULES}/{gone['id']}", headers=admin)

    # Other tests' databases publish to the same topic: read exactly what this one staged.
    ours = await _published_ids(database_url)
    events = await event_log.wait_for(
        COGNISYS_ROUTING_RULE, lambda e: e.id in ours, count=len(ours)
    )
    book = RuleBook()
    for envelope in reversed(events):  # order must not matter: the revision decides
        book.apply(RoutingRuleChangedV1.model_validate(envelope.data))

    api = (await client.get(RULES, headers=admin)).json()["items"]
    rebuilt = sorted(book.rules, key=lambda r: str(r.rule_id))
    assert [str(r.rule_id) for r in rebuilt] == sorted(r["id"] for r in api)
    for rule, shown in zip(rebuilt, sorted(api, key=lambda r: r["id"]), strict=True):
        assert (rule.name, rule.priority, rule.enabled, rule.is_default, rule.revision) == (
            shown["name"],
            shown["priority"],
            shown["enabled"],
            shown["is_default"],
            shown["revision"],
        )
        assert rule.conditions.model_dump(mode="json") == shown["conditions"]
        assert [t.model_dump() for t in rule.targets] == shown["targets"]


async def test_concurrent_changes_get_distinct_revisions_in_topic_order(client, admin, event_log):
    rule = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    url = f"{RULES}/{rule['id']}"
    responses = await asyncio.gather(
        *(client.patch(url, json={"priority": p}, headers=admin) for p in range(1, 6))
    )
    assert sorted(r.json()["revision"] for r in responses) == [2, 3, 4, 5, 6]
    events = await event_log.wait_for(
        COGNISYS_ROUTING_RULE, lambda e: e.subject == rule["id"], count=6
    )
    assert [e.data["revision"] for e in events] == [1, 2, 3, 4, 5, 6]
    final = (await client.get(url, headers=admin)).json()
    assert final["priority"] == events[-1].data["priority"]
