"""Scenario runs over time: progress and cancel, comparing two runs, resuming a run a dead
worker left, runs of different users side by side."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from vareon_arcana.scenarios.models import ScenarioResult, ScenarioRun
from vareon_arcana.settings import ArcanaSettings

from .conftest import eventually, target
from .test_chat import seed
from .test_scenarios import SCENARIOS, create, finished, start


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    """As in test_scenarios: a quick poll (the resumed run has no wake-up), two runs a user."""
    return settings.model_copy(update={"scenario_poll_s": 0.2, "scenario_active_runs": 2})


async def test_a_cancelled_run_starts_no_further_conversation(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    owner = signing_key.headers(uuid.uuid4())
    model = server.behave(f"scn-slow-{uuid.uuid4().hex[:6]}", words=["a", "b", "c"], delay_s=0.2)
    category = await seed(publish, db, targets=[target(model)])
    turns = [{"name": f"c{i}", "turns": ["hi"]} for i in range(8)]
    body = {"name": "slow", "category": category, "conversations": turns}
    sid = (await create(client, owner, body))["id"]
    started = [await start(client, owner, sid), await start(client, owner, sid)]

    async def under_way():
        got = await client.get(f"{SCENARIOS}/{sid}/runs/{started[0]['id']}", headers=owner)
        run = got.json()
        return run if run["status"] == "running" and run["done"] >= 1 else None

    progress = await eventually(under_way, timeout_s=20)
    if progress["done"] < 8:  # the ETA exists while conversations are left
        assert progress["eta_s"] > 0 and progress["passed"] + progress["failed"] == progress["done"]
    busy = await client.post(f"{SCENARIOS}/{sid}/runs", headers=owner)
    assert busy.status_code == 409 and busy.json()["type"].endswith("/scenario-runs-busy")

    for run in started:
        cancelled = await client.post(f"{SCENARIOS}/{sid}/runs/{run['id']}/cancel", headers=owner)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"

    async def settled():  # the conversation being played when it was cancelled is recorded
        got = [
            (await client.get(f"{SCENARIOS}/{sid}/runs/{r['id']}", headers=owner)).json()
            for r in started
        ]
        ended = all(s.finished or s.cancelled for s in server.streams if s.model == model)
        return got if ended and sum(g["done"] for g in got) == server.calls.count(model) else None

    got = await eventually(settled, timeout_s=20)
    assert all(g["status"] == "cancelled" and g["done"] < 8 for g in got)
    again = await start(client, owner, sid)  # no longer busy
    assert (
        await client.post(f"{SCENARIOS}/{sid}/runs/{again['id']}/cancel", headers=owner)
    ).is_success


async def test_two_runs_compare_per_conversation(client, signing_key, publish, db, fake):
    server, _ = fake
    owner = signing_key.headers(uuid.uuid4())
    model = server.behave(f"scn-cmp-{uuid.uuid4().hex[:6]}", words=["yes"])
    category = await seed(publish, db, targets=[target(model)])
    spec = {
        "name": "cmp",
        "category": category,
        "expect": {"contains": ["yes"]},
        "conversations": [{"name": "ask", "turns": ["q"]}, {"name": "old", "turns": ["q"]}],
    }
    scenario = await create(client, owner, spec)
    sid = scenario["id"]
    first = await finished(client, owner, sid, (await start(client, owner, sid))["id"])
    assert first["passed"] == 2

    server.behave(model, words=["no", "way"])
    spec["conversations"][1] = {"name": "new", "turns": ["q"]}
    assert (await client.put(f"{SCENARIOS}/{sid}", headers=owner, json=spec)).status_code == 200
    second = await finished(client, owner, sid, (await start(client, owner, sid))["id"])
    assert second["passed"] == 0

    response = await client.get(
        f"{SCENARIOS}/{sid}/runs/{first['id']}/compare/{second['id']}", headers=owner
    )
    assert response.status_code == 200, response.text
    comparison = response.json()
    assert comparison["passed"] == {"a": 2, "b": 0}
    changes = {c["key"]: c for c in comparison["conversations"]}
    assert {k: c["change"] for k, c in changes.items()} == {
        "ask": "changed",
        "old": "removed",
        "new": "added",
    }
    ask = changes["ask"]["differences"]
    assert ask["passed"] == {"a": True, "b": False}
    assert ask["check:contains:yes"]["b"] == {
        "passed": False,
        "reason": "'yes' not found in the answers",
    }
    assert ask["tokens_out"] == {"a": 1, "b": 2, "delta": 1}
    assert "delta" in ask["ttft_ms"] and "rule" not in ask
    listed = (await client.get(f"{SCENARIOS}/{sid}/runs", headers=owner)).json()["items"]
    assert [r["id"] for r in listed] == [second["id"], first["id"]]


async def test_a_run_left_by_a_dead_worker_resumes_after_its_recorded_conversations(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user = uuid.uuid4()
    owner = signing_key.headers(user)
    model = server.behave(f"scn-resume-{uuid.uuid4().hex[:6]}", words=["ok"])
    category = await seed(publish, db, targets=[target(model)])
    body = {
        "name": "resume",
        "category": category,
        "conversations": [{"name": "one", "turns": ["1"]}, {"name": "two", "turns": ["2"]}],
    }
    scenario = await create(client, owner, body)
    plan = {"persona": None, "category": category, "conversations": []}
    for c in body["conversations"]:
        plan["conversations"].append(
            {
                "key": c["name"],
                "turns": c["turns"],
                "json_mode": False,
                "max_tokens": None,
                "expect": {},
            }
        )
    run_id = uuid.uuid4()
    async with db.begin() as s:  # what a worker that died after one conversation left
        s.add(
            ScenarioRun(
                id=run_id,
                scenario_id=uuid.UUID(scenario["id"]),
                owner_id=user,
                roles=["user"],
                verified=True,
                charge=False,
                status="running",
                plan=plan,
                total=2,
                done=1,
                passed=1,
                failed=0,
                lease_until=datetime(2020, 1, 1, tzinfo=UTC),
                started_at=datetime.now(UTC),
            )
        )
        await s.flush()
        s.add(
            ScenarioResult(
                run_id=run_id,
                position=0,
                key="one",
                passed=True,
                rule=None,
                provider=None,
                model=None,
                tokens_in=0,
                tokens_out=0,
                cost=0,
                ttft_ms=None,
                total_ms=1.0,
                checks=[],
                turns=[],
                error=None,
            )
        )
    run = await finished(client, owner, scenario["id"], str(run_id))
    assert (run["done"], run["passed"]) == (2, 2)
    assert [r["key"] for r in run["results"]] == ["one", "two"]
    assert server.calls.count(model) == 1  # only the conversation not yet recorded


async def test_runs_of_different_users_play_side_by_side(client, signing_key, publish, db, fake):
    server, _ = fake
    slow_user, quick_user = signing_key.headers(uuid.uuid4()), signing_key.headers(uuid.uuid4())
    slow = server.behave(f"scn-long-{uuid.uuid4().hex[:6]}", words=["a", "b"], delay_s=0.3)
    quick = server.behave(f"scn-quick-{uuid.uuid4().hex[:6]}", words=["done"])
    slow_category = await seed(publish, db, targets=[target(slow)])
    quick_category = await seed(publish, db, targets=[target(quick)])
    many = [{"name": f"c{i}", "turns": ["hi"]} for i in range(6)]
    long = await create(
        client, slow_user, {"name": "long", "category": slow_category, "conversations": many}
    )
    short = await create(
        client,
        quick_user,
        {"name": "short", "category": quick_category, "conversations": [many[0]]},
    )
    long_run = await start(client, slow_user, long["id"])
    short_run = await finished(
        client, quick_user, short["id"], (await start(client, quick_user, short["id"]))["id"]
    )
    assert short_run["status"] == "completed"
    path = f"{SCENARIOS}/{long['id']}/runs/{long_run['id']}"
    assert (await client.get(path, headers=slow_user)).json()["status"] in {"queued", "running"}
    assert (await client.post(f"{path}/cancel", headers=slow_user)).is_success
