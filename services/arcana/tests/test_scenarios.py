"""Synthetic testing: scenarios played through the real call path by the background worker,
uncharged unless asked: verdicts with reasons, JSON shapes, personas, fallback, owner-only,
erased with the user (runs over time: test_scenario_runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from vareon_arcana.models import RoutingSample, UsageRecord
from vareon_arcana.scenarios.models import Scenario, ScenarioResult, ScenarioRun
from vareon_arcana.settings import ArcanaSettings
from vareon_contracts import topics
from vareon_contracts.events.identity import UserDeletedV1

from .conftest import eventually, target
from .test_chat import seed

SCENARIOS = "/api/v1/arcana/scenarios"


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    """The worker polls often; two runs of a user's may be in progress."""
    return settings.model_copy(update={"scenario_poll_s": 0.2, "scenario_active_runs": 2})


async def finished(client, headers, sid: str, rid: str) -> dict:
    async def ended():
        run = (await client.get(f"{SCENARIOS}/{sid}/runs/{rid}", headers=headers)).json()
        return run if run["status"] in {"completed", "cancelled"} else None

    return await eventually(ended, timeout_s=30)


async def create(client, headers, body: dict) -> dict:
    response = await client.post(SCENARIOS, headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def start(client, headers, sid: str, **body) -> dict:
    response = await client.post(f"{SCENARIOS}/{sid}/runs", headers=headers, json=body or None)
    assert response.status_code == 202, response.text
    return response.json()


async def test_a_run_plays_each_conversation_routed_uncharged_and_says_why_one_failed(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user = uuid.uuid4()
    owner = signing_key.headers(user)
    model = server.behave(f"scn-{uuid.uuid4().hex[:6]}", words=["w1", "w2", "w3"])
    category = await seed(publish, db, targets=[target(model, price_in=1000, price_out=1000)])
    spec = {
        "name": "smoke",
        "category": category,
        "expect": {"rule": f"rule-{category}", "max_ttft_ms": 10_000},
        "conversations": [
            {
                "name": "greets",
                "turns": ["hello", "and again"],
                "expect": {"model": model, "contains": ["w2"], "not_contains": ["sorry"]},
            },
            {
                "name": "topics",
                "template": {
                    "turns": ["tell me about {topic}"],
                    "variables": {"topic": ["a", "b"]},
                },
                "expect": {"max_cost": 1},
            },
        ],
    }
    scenario = await create(client, owner, spec)
    assert scenario["conversations"][1]["template"]["variables"] == {"topic": ["a", "b"]}
    # The user has no wallet balance: a charged call would be refused (402).
    queued = await start(client, owner, scenario["id"])
    assert queued["status"] == "queued" and queued["total"] == 3 and not queued["charge"]

    run = await finished(client, owner, scenario["id"], queued["id"])
    assert (run["status"], run["done"], run["passed"], run["failed"]) == ("completed", 3, 1, 2)
    assert run["eta_s"] is None
    greets, topic_a, topic_b = run["results"]
    assert [r["key"] for r in run["results"]] == ["greets", "topics[topic=a]", "topics[topic=b]"]
    assert greets["passed"] and greets["rule"] == f"rule-{category}"
    assert greets["model"] == model and greets["provider"] == "fake"
    assert len(greets["turns"]) == 2 and greets["turns"][1]["answer"] == "w1 w2 w3"
    assert greets["tokens_out"] == 6 and greets["cost"] > 0
    assert greets["ttft_ms"] > 0 and greets["total_ms"] >= greets["ttft_ms"]
    assert {c["expectation"] for c in greets["checks"]} >= {"rule", "model", "contains:w2"}
    # The second turn carried the first exchange.
    asked = [r for r in server.requests if r["model"] == model][1]["messages"]
    assert [m["content"] for m in asked if m["role"] != "system"][-3:] == [
        "hello",
        "w1 w2 w3",
        "and again",
    ]
    failing = {c["expectation"]: c for c in topic_a["checks"]}["max_cost"]
    assert not topic_a["passed"] and not failing["passed"]
    assert failing["reason"] == f"cost {topic_a['cost']} micro-credits, at most 1 allowed"
    assert topic_b["turns"][0]["question"] == "tell me about b"

    async with db() as s:
        usage = await s.scalar(
            select(func.count()).select_from(UsageRecord).where(UsageRecord.user_id == user)
        )
        samples = await s.scalar(
            select(func.count()).select_from(RoutingSample).where(RoutingSample.user_id == user)
        )
    assert usage == 0 and samples == 0  # not charged, and no routing sample of real traffic

    charged = await start(client, owner, scenario["id"], charge=True)
    refused = await finished(client, owner, scenario["id"], charged["id"])
    assert refused["charge"] and refused["failed"] == 3
    answered = {c["expectation"]: c for c in refused["results"][0]["checks"]}["answered"]
    assert not answered["passed"] and answered["reason"].startswith("Insufficient credits")

    again = await client.post(
        f"{SCENARIOS}/{scenario['id']}/runs/{run['id']}/cancel", headers=owner
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/scenario-run-finished")


async def test_a_json_mode_answer_is_checked_against_its_shape(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    owner = signing_key.headers(uuid.uuid4())
    json_model = server.behave(f"scn-json-{uuid.uuid4().hex[:6]}", replies=['{"mood": 1}'])
    json_category = await seed(publish, db, targets=[target(json_model)])
    shaped = await create(
        client,
        owner,
        {
            "name": "json",
            "category": json_category,
            "conversations": [
                {
                    "name": "mood",
                    "turns": ["how do I feel?"],
                    "json_mode": True,
                    "expect": {"json_shape": {"mood": "string"}},
                }
            ],
        },
    )
    run = await finished(
        client, owner, shaped["id"], (await start(client, owner, shaped["id"]))["id"]
    )
    check = {c["expectation"]: c for c in run["results"][0]["checks"]}["json_shape"]
    assert check == {
        "expectation": "json_shape",
        "passed": False,
        "reason": "$.mood is an integer, not string",
    }
    assert [r for r in server.requests if r["model"] == json_model][-1]["response_format"] == {
        "type": "json_object"
    }


async def test_invalid_scenarios_are_422(client, signing_key):
    owner = signing_key.headers(uuid.uuid4())
    bad = [
        {"name": "x", "conversations": [{"name": "a"}]},
        {"name": "x", "conversations": [{"name": "a", "turns": ["hi"]}] * 2},
        {
            "name": "x",
            "conversations": [{"name": "a", "template": {"turns": ["{nope}"], "variables": {}}}],
        },
        {
            "name": "x",
            "conversations": [{"name": "a", "turns": ["hi"], "expect": {"json_shape": {"k": 1}}}],
        },
    ]
    values = {v: ["1", "2", "3", "4", "5"] for v in ("a", "b", "c")}  # 125 once expanded
    too_many = {"name": "a", "template": {"turns": ["{a}{b}{c}"], "variables": values}}
    bad.append({"name": "x", "conversations": [too_many]})
    for body in bad:
        response = await client.post(SCENARIOS, headers=owner, json=body)
        assert response.status_code == 422, body
    missing = await client.post(
        SCENARIOS,
        headers=owner,
        json={
            "name": "x",
            "persona": "nobody-has-this",
            "conversations": [{"name": "a", "turns": ["hi"]}],
        },
    )
    assert missing.status_code == 404 and missing.json()["type"].endswith("/persona-not-found")


async def test_scenarios_are_their_owners_only_and_go_with_the_user(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    user = uuid.uuid4()
    owner, other = signing_key.headers(user), signing_key.headers(uuid.uuid4())
    model = server.behave(f"scn-own-{uuid.uuid4().hex[:6]}", words=["hi"])
    category = await seed(publish, db, targets=[target(model)])
    body = {"name": "mine", "category": category, "conversations": [{"name": "a", "turns": ["x"]}]}
    scenario = await create(client, owner, body)
    sid = scenario["id"]
    run = await finished(client, owner, sid, (await start(client, owner, sid))["id"])
    rid = run["id"]

    for path in (
        f"{SCENARIOS}/{sid}",
        f"{SCENARIOS}/{sid}/runs",
        f"{SCENARIOS}/{sid}/runs/{rid}",
        f"{SCENARIOS}/{sid}/runs/{rid}/compare/{rid}",
    ):
        response = await client.get(path, headers=other)
        assert response.status_code == 404, path
    assert (await client.post(f"{SCENARIOS}/{sid}/runs", headers=other)).status_code == 404
    assert (await client.delete(f"{SCENARIOS}/{sid}", headers=other)).status_code == 404
    assert (await client.get(SCENARIOS, headers=other)).json()["items"] == []
    assert [s["id"] for s in (await client.get(SCENARIOS, headers=owner)).json()["items"]] == [sid]

    erased = await publish(UserDeletedV1(user_id=user, deleted_at=datetime.now(UTC)))
    await event_log.consumed("arcana.users", topics.IDENTITY_USER, lambda e: e.id == erased.id)
    async with db() as s:
        left = [
            await s.scalar(
                select(func.count()).select_from(Scenario).where(Scenario.owner_id == user)
            ),
            await s.scalar(
                select(func.count()).select_from(ScenarioRun).where(ScenarioRun.owner_id == user)
            ),
            await s.scalar(
                select(func.count())
                .select_from(ScenarioResult)
                .where(ScenarioResult.run_id == uuid.UUID(rid))
            ),
        ]
    assert left == [0, 0, 0]
    assert (await client.get(f"{SCENARIOS}/{sid}", headers=owner)).status_code == 404


async def test_a_persona_scenario_answers_with_its_prompt_and_pinned_model(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    owner = signing_key.headers(uuid.uuid4())
    routed = server.behave(f"scn-routed-{uuid.uuid4().hex[:6]}", words=["plain"])
    pinned = server.behave(f"scn-pinned-{uuid.uuid4().hex[:6]}", words=["arr"])
    category = await seed(publish, db, targets=[target(routed), target(pinned)])
    slug = f"pirate-{uuid.uuid4().hex[:6]}"
    persona = {"slug": slug, "name": "P", "system_prompt": "Say arr.", "category": category}
    made = await client.post(
        "/api/v1/arcana/personas", headers=owner, json=persona | {"model": pinned}
    )
    assert made.status_code == 201, made.text
    body = {
        "name": "pirate",
        "persona": slug,
        "expect": {"model": pinned, "contains": ["arr"]},
        "conversations": [{"name": "ahoy", "turns": ["ahoy"]}],
    }
    scenario = await create(client, owner, body)
    run = await finished(
        client, owner, scenario["id"], (await start(client, owner, scenario["id"]))["id"]
    )
    assert run["passed"] == 1 and run["persona_version"] == 1, run["results"]
    sent = [r for r in server.requests if r["model"] == pinned][-1]["messages"]
    assert sent[0]["role"] == "system" and sent[0]["content"].startswith("Say arr.")

    # The persona changes: a run started now plays its new version, and the comparison says so.
    pid = made.json()["id"]
    edit = {"system_prompt": "Say nothing.", "model": None}
    assert (
        await client.patch(f"/api/v1/arcana/personas/{pid}", headers=owner, json=edit)
    ).is_success
    later = await start(client, owner, scenario["id"])
    assert later["persona_version"] == 2
    later = await finished(client, owner, scenario["id"], later["id"])
    assert later["results"][0]["model"] == routed and not later["results"][0]["passed"]
    path = f"{SCENARIOS}/{scenario['id']}/runs/{run['id']}/compare/{later['id']}"
    comparison = (await client.get(path, headers=owner)).json()
    assert comparison["persona_version"] == {"a": 1, "b": 2}
    differences = comparison["conversations"][0]["differences"]
    assert differences["model"] == {"a": pinned, "b": routed}
    assert (
        differences["check:model"]["b"]["reason"] == f"expected {pinned!r}, turn 1 got {routed!r}"
    )


async def test_the_model_recorded_is_the_one_that_answered_after_fallback(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    owner = signing_key.headers(uuid.uuid4())
    broken = server.behave(f"scn-broken-{uuid.uuid4().hex[:6]}", kind="error")
    backup = server.behave(f"scn-backup-{uuid.uuid4().hex[:6]}", words=["saved"])
    category = await seed(publish, db, targets=[target(broken), target(backup)])
    body = {
        "name": "fallback",
        "category": category,
        "conversations": [{"name": "a", "turns": ["hi"], "expect": {"model": broken}}],
    }
    sid = (await create(client, owner, body))["id"]
    run = await finished(client, owner, sid, (await start(client, owner, sid))["id"])
    result = run["results"][0]
    assert result["model"] == backup and result["turns"][0]["fell_back"]
    check = {c["expectation"]: c for c in result["checks"]}["model"]
    assert check["reason"] == f"expected {broken!r}, turn 1 got {backup!r}"
    assert server.calls.count(broken) >= 1
