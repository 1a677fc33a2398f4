from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import psycopg
import pytest
from vareon_contracts import topics

from .conftest import API

DIGEST = "sha256:" + "b" * 64


async def new_model(client, headers):
    name = f"model-{uuid.uuid4().hex[:8]}"
    response = await client.post(f"{API}/models", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return name


async def register(client, headers, name, **extra):
    response = await client.post(
        f"{API}/models/{name}/versions", headers=headers, json={"artifact_digest": DIGEST, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_versions_are_immutable_and_announced(client, user, auth, event_log, database_url):
    name = await new_model(client, user)
    job = uuid.uuid4()
    first = await register(
        client,
        user,
        name,
        training_job_id=str(job),
        parameters={"lr": 0.1},
        metrics={"accuracy": 0.9},
    )
    assert first["version"] == 1 and first["metrics"] == {"accuracy": 0.9}
    for method in ("PUT", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"{API}/models/{name}/versions/1",
            json={"metrics": {"accuracy": 1.0}},
            headers=user,
        )
        assert response.status_code == 405
        assert response.json()["type"].endswith("/model-version-immutable")
    # Not even the database lets a registered version change.
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        with pytest.raises(psycopg.errors.RaiseException):
            await conn.execute("UPDATE model_versions SET metrics = '{}'::jsonb")
    got = await client.get(f"{API}/models/{name}/versions/1", headers=user)
    assert got.json()["metrics"] == {"accuracy": 0.9}
    assert (
        await client.post(
            f"{API}/models/{name}/versions",
            headers=auth(uuid.uuid4()),
            json={"artifact_digest": DIGEST},
        )
    ).status_code == 403
    assert (
        await client.post(f"{API}/models", json={"name": name}, headers=user)
    ).status_code == 409

    events = await event_log.wait_for(
        topics.NEOSYNTIS_MODEL, lambda e: e.data.get("model_name") == name
    )
    assert events[0].type == "vareon.neosyntis.model.version-registered.v1"
    assert events[0].data["training_job_id"] == str(job)


async def test_alias_history_answers_at_time_t(client, user, event_log):
    name = await new_model(client, user)
    for _ in range(3):
        await register(client, user, name)
    moments: list[tuple[datetime, int | None]] = []
    for version in (1, 2, 3, None, 2):
        response = await client.put(
            f"{API}/models/{name}/aliases/champion", json={"version": version}, headers=user
        )
        assert response.status_code == 200, response.text
        moments.append((datetime.fromisoformat(response.json()["valid_from"]), version))
        await asyncio.sleep(0.01)
    assert response.json()["previous_version"] is None  # it had been removed
    for (start, version), (end, _) in zip(moments, [*moments[1:], (None, None)], strict=True):
        probes = [start] if end is None else [start, start + (end - start) / 2]
        for at in probes:
            got = await client.get(
                f"{API}/models/{name}/aliases/champion", params={"at": at.isoformat()}, headers=user
            )
            if version is None:
                assert got.status_code == 404
            else:
                assert got.json()["version"] == version, (at, got.json())
    before = moments[0][0].replace(year=2000)
    assert (
        await client.get(
            f"{API}/models/{name}/aliases/champion", params={"at": before.isoformat()}, headers=user
        )
    ).status_code == 404
    assert (await client.get(f"{API}/models/{name}/aliases/champion", headers=user)).json()[
        "version"
    ] == 2
    history = await client.get(f"{API}/models/{name}/aliases/champion/history", headers=user)
    assert [p["version"] for p in history.json()] == [1, 2, 3, None, 2]
    moved = await event_log.wait_for(
        topics.NEOSYNTIS_MODEL,
        lambda e: (
            e.data.get("model_name") == name and e.type == "vareon.neosyntis.model.alias-moved.v1"
        ),
        count=5,
    )
    assert [(e.data["previous_version"], e.data["version"]) for e in moved] == [
        (None, 1),
        (1, 2),
        (2, 3),
        (3, None),
        (None, 2),
    ]
    bad = await client.get(
        f"{API}/models/{name}/aliases/champion", params={"at": "yesterday"}, headers=user
    )
    assert bad.status_code == 422
