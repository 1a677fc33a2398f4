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
    first = await register(
        client,
        user,
        name,
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
    ).status_code == 404  # another user's private model
    assert (
        await client.post(f"{API}/models", json={"name": name}, headers=user)
    ).status_code == 409

    events = await event_log.wait_for(
        topics.NEOSYNTIS_MODEL, lambda e: e.data.get("model_name") == name
    )
    assert events[0].type == "vareon.neosyntis.model.version-registered.v1"
    assert events[0].data["version"] == 1


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


async def test_private_models_are_invisible_to_other_users(client, user, auth):
    """issue 16 item 12: a model is readable by its owner only unless it is public; others get
    404 on list, get, versions, aliases and compare (before: every user read every version)."""
    name = await new_model(client, user)
    await register(client, user, name, parameters={"target": "churn"})
    moved = await client.put(
        f"{API}/models/{name}/aliases/champion", json={"version": 1}, headers=user
    )
    assert moved.status_code == 200
    other = auth(uuid.uuid4())
    listed = await client.get(f"{API}/models", params={"name_prefix": name}, headers=other)
    assert listed.json()["items"] == []
    for path in (
        "",
        "/versions",
        "/versions/1",
        "/aliases/champion",
        "/aliases/champion/history",
    ):
        got = await client.get(f"{API}/models/{name}{path}", headers=other)
        assert got.status_code == 404, (path, got.text)
    compared = await client.post(f"{API}/open-lab/compare", headers=other, json={"model": name})
    assert compared.status_code == 404
    refused = await client.post(
        f"{API}/models/{name}/versions", headers=other, json={"artifact_digest": DIGEST}
    )
    assert refused.status_code == 404
    assert (await client.get(f"{API}/models/{name}/versions/1", headers=user)).status_code == 200


async def test_publishing_a_model_needs_models_write(client, user, auth):
    """issue 16 item 12: `models:write` is what lets a model be read by others; a plain user
    keeps private models (before: the permission was never checked, every model was public)."""
    name = f"model-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "visibility": "public"}
    refused = await client.post(f"{API}/models", json=body, headers=user)
    assert refused.status_code == 403, refused.text
    private = await new_model(client, user)
    patched = await client.patch(
        f"{API}/models/{private}", json={"visibility": "public"}, headers=user
    )
    assert patched.status_code == 403, patched.text

    publisher_id = uuid.uuid4()
    publisher = auth(publisher_id, "models:write")
    created = await client.post(f"{API}/models", json=body, headers=publisher)
    assert created.status_code == 201 and created.json()["visibility"] == "public"
    await register(client, publisher, name)
    other = auth(uuid.uuid4())
    assert (await client.get(f"{API}/models/{name}/versions/1", headers=other)).status_code == 200
    listed = await client.get(f"{API}/models", params={"name_prefix": name}, headers=other)
    assert [m["name"] for m in listed.json()["items"]] == [name]
    # Visible is not writable: only the owner registers versions.
    assert (
        await client.post(
            f"{API}/models/{name}/versions", headers=other, json={"artifact_digest": DIGEST}
        )
    ).status_code == 403
    hidden = await client.patch(
        f"{API}/models/{name}", json={"visibility": "private"}, headers=publisher
    )
    assert hidden.status_code == 200 and hidden.json()["visibility"] == "private"
    assert (await client.get(f"{API}/models/{name}", headers=other)).status_code == 404


async def test_lineage_must_be_the_callers_own(client, user, auth):
    """issue 16 item 12: `training_job_id` must be a succeeded job of the caller and
    `dataset_version_id` the caller's dataset version, else 422 (before: an unknown job id
    was stored and replicated to myntrix with 201)."""
    name = await new_model(client, user)
    for lineage in (
        {"training_job_id": str(uuid.uuid4())},
        {"dataset_version_id": str(uuid.uuid4())},
    ):
        response = await client.post(
            f"{API}/models/{name}/versions",
            headers=user,
            json={"artifact_digest": DIGEST, **lineage},
        )
        assert response.status_code == 422, (lineage, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
