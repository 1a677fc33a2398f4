"""Dry-runs over arcana's recorded traffic, received from the real topic; erasure removes it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from vareon_contracts import Envelope, EventPayload, encode_kafka, topics
from vareon_contracts.events.arcana import RoutingSampleRecordedV1
from vareon_contracts.events.identity import UserDeletedV1

from .conftest import DEFAULT_RULE_ID, RULES, rule_body

DRY_RUN = f"{RULES}/dry-run"
SAMPLES_GROUP = "cognisys.routing-samples"
MINI = {
    "provider": "openai",
    "model": "mini",
    "input_price_per_1k": 100,
    "output_price_per_1k": 200,
}


@pytest_asyncio.fixture
async def publish(infrastructure: Any) -> AsyncIterator[Any]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=False, acks="all"
    )
    await kafka.start()

    async def send(payload: EventPayload) -> Envelope:
        envelope = Envelope.wrap(payload, source="tests")
        key, value, headers = encode_kafka(envelope)
        await kafka.send_and_wait(payload.topic, value=value, key=key, headers=headers)
        return envelope

    try:
        yield send
    finally:
        await kafka.stop()


def sample(user: uuid.UUID, at: datetime, **fields: Any) -> RoutingSampleRecordedV1:
    base: dict[str, Any] = {
        "sample_id": uuid.uuid4(),
        "user_id": user,
        "recorded_at": at,
        "category": "general",
        "roles": ["user"],
        "length": 40,
        "terms": [],
        "rule_id": uuid.UUID(DEFAULT_RULE_ID),
        "first_provider": "offline",
        "first_model": "vareon-offline-1",
        "provider": "offline",
        "model": "vareon-offline-1",
        "tokens_in": 1000,
        "tokens_out": 1000,
        "cost": 0,
    }
    return RoutingSampleRecordedV1(**(base | fields))


async def record(publish: Any, event_log: Any, events: list[RoutingSampleRecordedV1]) -> None:
    ids = {str((await publish(e)).id) for e in events}
    await event_log.consumed(
        SAMPLES_GROUP, topics.ARCANA_ROUTING_SAMPLE, lambda e: e.id in ids, count=len(ids)
    )


@pytest.fixture
def later() -> datetime:
    # Days ahead, with one-day windows, so that samples other tests' arcana instances
    # relayed onto the shared topic (recorded now) are never in this file's windows; and
    # past the minute after which the rules' terms count as looked for.
    return datetime.now(UTC) + timedelta(days=10)


async def test_a_proposal_is_replayed_over_recorded_calls_and_erasure_removes_them(
    client, admin, publish, event_log, later
):
    coding = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    on_coding = {
        "category": "coding",
        "terms": ["python"],
        "rule_id": uuid.UUID(coding["id"]),
        "first_provider": "openai",
        "first_model": "gpt-big",
        "provider": "openai",
        "model": "gpt-big",
        "cost": 12500,
    }
    await record(
        publish,
        event_log,
        [
            sample(alice, later, **on_coding),
            sample(alice, later, **on_coding),
            sample(alice, later, **(on_coding | {"fell_back": True, "provider": "offline"})),
            sample(bob, later),
            sample(bob, later),
        ],
    )
    invoices = rule_body(
        name="invoices to mini",
        priority=50,
        conditions={"categories": ["general"], "keywords": ["invoice"]},
        targets=[MINI],
    )
    body = {
        "until": (later + timedelta(minutes=1)).isoformat(),
        "days": 1,
        "changes": [
            {"op": "update", "rule_id": coding["id"], "changes": {"targets": [MINI]}},
            {"op": "create", "rule": invoices},
        ],
    }
    answer = await client.post(DRY_RUN, json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["calls"] == 5
    assert report["recorded_cost"] == 3 * 12500
    # Coding calls: 1000 + 1000 tokens at 2500/10000 per 1k today, 100/200 proposed.
    assert report["current"]["cost"] == 3 * 12500
    assert report["proposed"]["cost"] == 3 * 300
    assert report["cost_difference"] == 3 * 300 - 3 * 12500
    assert report["moved"] == 3
    # "invoice" was in no rule when bob's calls were recorded: not known, not guessed.
    assert report["undetermined"] == 2
    assert report["current"]["unmatched"] == report["proposed"]["unmatched"] == 2
    assert report["current"]["expected_fallbacks"] == pytest.approx(1.0)
    assert report["proposed"]["unobserved"] == 3
    by_name = {r["name"]: r for r in report["rules"]}
    assert by_name["coding to the big model"]["change"] == "updated"
    assert by_name["coding to the big model"]["retargeted"] == 3
    assert by_name["invoices to mini"]["change"] == "created"
    rates = {(r["provider"], r["model"]): r for r in report["fallback_rates"]}
    assert rates[("openai", "gpt-big")] == {
        "provider": "openai",
        "model": "gpt-big",
        "tried_first": 3,
        "fell_back": 1,
    }
    # Nothing was applied.
    kept = (await client.get(f"{RULES}/{coding['id']}", headers=admin)).json()
    assert kept["targets"][0]["model"] == "gpt-big"
    assert kept["revision"] == 1

    erased = await publish(UserDeletedV1(user_id=alice, deleted_at=datetime.now(UTC)))
    await event_log.consumed("cognisys.users", topics.IDENTITY_USER, lambda e: e.id == erased.id)
    # A sample relayed after the erasure is dropped too.
    await record(publish, event_log, [sample(alice, later, **on_coding)])
    after = (await client.post(DRY_RUN, json=body, headers=admin)).json()
    assert after["calls"] == 2
    assert after["recorded_cost"] == 0


async def test_a_dry_run_is_for_rule_authors_and_checks_the_changes(client, auth, admin, later):
    plain = auth()
    assert (await client.post(DRY_RUN, json={}, headers=plain)).status_code == 403
    gone = {"changes": [{"op": "delete", "rule_id": DEFAULT_RULE_ID}]}
    refused = await client.post(DRY_RUN, json=gone, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/invalid-routing-rule")
    # Problem members as the OpenAPI documents them: each error an object.
    assert refused.json()["errors"] == [
        {"msg": "changes[0]: the default rule is never deleted", "loc": ["body", "changes", 0]}
    ]
    unknown = {"changes": [{"op": "delete", "rule_id": str(uuid.uuid4())}]}
    assert (await client.post(DRY_RUN, json=unknown, headers=admin)).status_code == 422
    empty = await client.post(DRY_RUN, json={"days": 1, "until": later.isoformat()}, headers=admin)
    assert empty.status_code == 200
    assert empty.json()["calls"] == 0
    assert (await client.post(DRY_RUN, json={"days": 400}, headers=admin)).status_code == 422
    ancient = {"until": "0001-01-02T00:00:00Z"}
    assert (await client.post(DRY_RUN, json=ancient, headers=admin)).status_code == 422
