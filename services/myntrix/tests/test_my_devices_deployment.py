"""Issue 20 item 7: the quick action "deploy the model alias A to my devices"."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from vareon_contracts.events.neosyntis import ModelAliasMovedV1, ModelVersionRegisteredV1
from vareon_myntrix import model_replica
from vareon_myntrix.models import Deployment

from .conftest import API, OPERATOR, register_device

QUICK = f"{API}/deployments/my-devices"


async def _alias(sessionmaker, model: str, alias: str, version: int) -> None:
    model_id = uuid.uuid5(uuid.NAMESPACE_DNS, model)
    now = datetime.now(UTC)
    async with sessionmaker.begin() as session:
        await model_replica.replicate_version(
            session,
            ModelVersionRegisteredV1(
                model_id=model_id,
                model_name=model,
                version=version,
                artifact_digest=f"sha256:{version:064d}",
                registered_at=now,
            ),
        )
        await model_replica.replicate_alias(
            session,
            ModelAliasMovedV1(
                model_id=model_id, model_name=model, alias=alias, version=version, moved_at=now
            ),
        )


async def _deployments(sessionmaker, user: uuid.UUID) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(Deployment.requested_by == user)
        return int(await session.scalar(query) or 0)


async def test_deploys_the_alias_to_my_devices_once(client, auth, sessionmaker):
    me, someone = uuid.uuid4(), uuid.uuid4()
    mine = auth(me, *OPERATOR)
    model = f"m-{me.hex[:8]}"
    await _alias(sessionmaker, model, "champion", 3)
    await _alias(sessionmaker, model, "staging", 3)
    devices = {(await register_device(client, mine))["id"] for _ in range(2)}
    await register_device(client, auth(someone, *OPERATOR))  # not mine: not deployed to
    keyed = {**mine, "Idempotency-Key": "deploy-1"}
    body = {"model_name": model, "alias": "champion"}

    first = await client.post(QUICK, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    deployed = first.json()
    assert deployed["model_name"] == model and deployed["version"] == 3
    assert {t["device_id"] for t in deployed["targets"]} == devices
    again = await client.post(QUICK, json=body, headers=keyed)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == deployed["id"]
    assert await _deployments(sessionmaker, me) == 1

    other = await client.post(QUICK, json={**body, "alias": "staging"}, headers=keyed)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")

    # Concurrent retries of a fresh key: the one deployment (a second would be a 409
    # deployment-conflict on the same devices, not a replay).
    await client.post(f"{API}/deployments/{deployed['id']}/abort", headers=mine)
    racing = {**mine, "Idempotency-Key": "deploy-2"}
    answers = await asyncio.gather(
        *(client.post(QUICK, json=body, headers=racing) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _deployments(sessionmaker, me) == 2


async def test_refused_without_permission_key_alias_or_devices(client, auth, sessionmaker):
    me = uuid.uuid4()
    model = f"m-{me.hex[:8]}"
    await _alias(sessionmaker, model, "champion", 1)
    body = {"model_name": model, "alias": "champion"}
    key = {"Idempotency-Key": "k"}

    assert (await client.post(QUICK, json=body, headers=key)).status_code == 401
    reader = await client.post(QUICK, json=body, headers={**auth(me, "devices:read"), **key})
    assert reader.status_code == 403
    no_key = await client.post(QUICK, json=body, headers=auth(me, *OPERATOR))
    assert no_key.status_code == 422
    nothing = await client.post(QUICK, json=body, headers={**auth(me, *OPERATOR), **key})
    assert nothing.status_code == 422 and nothing.json()["type"].endswith("/no-eligible-device")
    await register_device(client, auth(me, *OPERATOR))
    unknown = {**body, "alias": "nope"}
    missing = await client.post(QUICK, json=unknown, headers={**auth(me, *OPERATOR), **key})
    assert missing.status_code == 422
    assert await _deployments(sessionmaker, me) == 0
    # Refusals held no key: the first acceptable request with it acts.
    ok = await client.post(QUICK, json=body, headers={**auth(me, *OPERATOR), **key})
    assert ok.status_code == 201 and "Idempotent-Replayed" not in ok.headers
