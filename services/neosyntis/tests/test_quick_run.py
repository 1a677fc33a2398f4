"""Issue 20 item 7: the quick action "run workflow W" with an Idempotency-Key."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select
from vareon_chassis.db import create_engine
from vareon_neosyntis.workflows.models import WorkflowRun

from .conftest import API
from .test_workflows import pipeline_steps

FLOWS = f"{API}/workflows"


async def _runs(database_url: str, owner: uuid.UUID) -> int:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).where(WorkflowRun.owner_id == owner)
            return int(await conn.scalar(query) or 0)
    finally:
        await engine.dispose()


async def _flow(client, headers, name: str, steps=None) -> str:
    body = {"name": name, "steps": steps or pipeline_steps()[:1]}
    created = await client.post(FLOWS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_keyed_run_starts_once_and_replays(client, auth, database_url):
    owner = uuid.uuid4()
    me = auth(owner)
    first_flow, second_flow = await _flow(client, me, "one"), await _flow(client, me, "two")
    keyed = {**me, "Idempotency-Key": "run-1"}

    first = await client.post(f"{FLOWS}/{first_flow}/runs", headers=keyed)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await client.post(f"{FLOWS}/{first_flow}/runs", headers=keyed)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await _runs(database_url, owner) == 1

    other = await client.post(f"{FLOWS}/{second_flow}/runs", headers=keyed)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")

    # Concurrent retries of a fresh key queue on its row: one run between them.
    racing = {**me, "Idempotency-Key": "run-2"}
    answers = await asyncio.gather(
        *(client.post(f"{FLOWS}/{second_flow}/runs", headers=racing) for _ in range(3))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _runs(database_url, owner) == 2

    # No key: every call is a new run (the plain API as before).
    assert (await client.post(f"{FLOWS}/{first_flow}/runs", headers=me)).status_code == 201
    assert await _runs(database_url, owner) == 3


async def test_keyed_runs_are_refused_to_who_may_not_run(client, auth, database_url):
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    deployer = auth(owner, "deployments:write")
    flow = await _flow(client, deployer, "fleet", pipeline_steps())
    key = {"Idempotency-Key": "k"}

    assert (await client.post(f"{FLOWS}/{flow}/runs", headers=key)).status_code == 401
    theirs = await client.post(f"{FLOWS}/{flow}/runs", headers={**auth(stranger), **key})
    assert theirs.status_code == 404
    # The owner without deployments:write may not run a workflow that deploys.
    plain = await client.post(f"{FLOWS}/{flow}/runs", headers={**auth(owner), **key})
    assert plain.status_code == 403
    assert await _runs(database_url, owner) == await _runs(database_url, stranger) == 0
    # The refused attempts held no key: the deployer's first use of it acts.
    ran = await client.post(f"{FLOWS}/{flow}/runs", headers={**deployer, **key})
    assert ran.status_code == 201 and "Idempotent-Replayed" not in ran.headers
