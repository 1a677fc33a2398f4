import asyncio
import uuid

from sqlalchemy import func, select
from vareon_contracts import topics
from vareon_myntrix.models import Command

from .conftest import API


async def _agent(client, headers, **body):
    response = await client.post(
        f"{API}/agents",
        headers=headers,
        json={"name": "helper", "kind": "chat", "model": "gpt-x", **body},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_agents_are_validated_per_kind_and_visible_only_to_their_owner(client, auth):
    alice, bob = auth(uuid.uuid4()), auth(uuid.uuid4())
    agent = await _agent(
        client,
        alice,
        kind="worker",
        configuration={"kind": "worker", "queue": "jobs", "concurrency": 4},
    )
    assert agent["status"] == "stopped" and agent["configuration"]["concurrency"] == 4

    bad = await client.post(
        f"{API}/agents",
        headers=alice,
        json={
            "name": "w",
            "kind": "worker",
            "model": "m",
            "configuration": {"kind": "worker", "temperature": 0.3},
        },
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")

    assert (await client.get(f"{API}/agents/{agent['id']}", headers=bob)).status_code == 404
    assert (await client.get(f"{API}/agents", headers=bob)).json()["items"] == []
    assert [
        a["id"] for a in (await client.get(f"{API}/agents", headers=alice)).json()["items"]
    ] == [agent["id"]]

    patched = await client.patch(
        f"{API}/agents/{agent['id']}", headers=alice, json={"configuration": {"queue": "other"}}
    )
    assert patched.status_code == 200 and patched.json()["configuration"]["queue"] == "other"
    wrong = await client.patch(
        f"{API}/agents/{agent['id']}",
        headers=alice,
        json={"configuration": {"system_prompt": "hi"}},
    )
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("invalid-agent-configuration")
    assert (
        await client.patch(f"{API}/agents/{agent['id']}", headers=bob, json={"name": "x"})
    ).status_code == 404


async def test_illegal_transitions_are_refused_with_a_409_problem(client, auth, event_log):
    owner = auth(uuid.uuid4())
    agent = await _agent(client, owner)
    stop = await client.post(
        f"{API}/agents/actions",
        headers=owner,
        json={"agent_ids": [agent["id"]], "action": "stop", "idempotency_key": "k1"},
    )
    assert stop.status_code == 409
    assert stop.json()["type"].endswith("illegal-agent-transition")
    assert stop.json()["agents"] == [{"agent_id": agent["id"], "status": "stopped"}]

    started = await client.post(
        f"{API}/agents/actions",
        headers=owner,
        json={"agent_ids": [agent["id"]], "action": "start", "idempotency_key": "k2"},
    )
    assert started.status_code == 202
    command = started.json()[0]
    assert command["state"] == "queued"
    # Starting, an agent cannot be deleted or started again.
    assert (await client.delete(f"{API}/agents/{agent['id']}", headers=owner)).status_code == 409
    again = await client.post(
        f"{API}/agents/actions",
        headers=owner,
        json={"agent_ids": [agent["id"]], "action": "start", "idempotency_key": "k3"},
    )
    assert again.status_code == 409

    done = await client.post(
        f"{API}/commands/{command['id']}/report", headers=owner, json={"state": "succeeded"}
    )
    assert done.status_code == 200 and done.json()["state"] == "succeeded"
    assert (await client.get(f"{API}/agents/{agent['id']}", headers=owner)).json()[
        "status"
    ] == "running"
    back = await client.post(
        f"{API}/commands/{command['id']}/report", headers=owner, json={"state": "sent"}
    )
    assert back.status_code == 409

    changes = await event_log.wait_for(
        topics.MYNTRIX_AGENT, lambda e: e.data["agent_id"] == agent["id"], count=2
    )
    assert [(e.data["previous_status"], e.data["status"]) for e in changes] == [
        ("stopped", "starting"),
        ("starting", "running"),
    ]


async def test_a_repeated_bulk_action_over_50_agents_creates_each_command_once(
    client, auth, sessionmaker
):
    owner = auth(uuid.uuid4())
    ids = [(await _agent(client, owner, name=f"a{i}"))["id"] for i in range(50)]
    body = {"agent_ids": ids, "action": "start", "idempotency_key": "bulk-1"}
    first, second, third = await asyncio.gather(
        *(client.post(f"{API}/agents/actions", headers=owner, json=body) for _ in range(3))
    )
    for response in (first, second, third):
        assert response.status_code == 202, response.text
        assert [c["agent_id"] for c in response.json()] == ids
    assert (
        [c["id"] for c in first.json()]
        == [c["id"] for c in second.json()]
        == [c["id"] for c in third.json()]
    )
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Command).where(Command.idempotency_key == "bulk-1")
        )
    assert count == 50
    other_action = await client.post(
        f"{API}/agents/actions", headers=owner, json={**body, "action": "stop"}
    )
    assert other_action.status_code == 409
    command = first.json()[0]
    got = await client.get(f"{API}/commands/{command['id']}", headers=owner)
    assert got.status_code == 200 and got.json()["state"] == "queued"
    assert (
        await client.get(f"{API}/commands/{command['id']}", headers=auth(uuid.uuid4()))
    ).status_code == 404


async def test_a_command_that_outlives_its_ttl_expires_and_fails_its_agent(
    client, auth, settings, sessionmaker
):
    from datetime import UTC, datetime, timedelta

    from vareon_myntrix import sweeper
    from vareon_myntrix.app import create_app

    owner = auth(uuid.uuid4())
    agent = await _agent(client, owner)
    command = (
        await client.post(
            f"{API}/agents/actions",
            headers=owner,
            json={"agent_ids": [agent["id"]], "action": "start", "idempotency_key": "ttl"},
        )
    ).json()[0]
    policy = create_app(settings).state.device_policy
    later = datetime.now(UTC) + timedelta(seconds=settings.command_ttl_s + 1)
    assert await sweeper.sweep(sessionmaker, policy, later) >= 1
    assert (await client.get(f"{API}/commands/{command['id']}", headers=owner)).json()[
        "state"
    ] == "expired"
    assert (await client.get(f"{API}/agents/{agent['id']}", headers=owner)).json()[
        "status"
    ] == "failed"
