"""Open-lab operations are capped per user (they run on the API's reader processes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from vareon_chassis.db import create_engine

from .conftest import API
from .test_lab import known_frame


async def test_a_user_with_operations_running_at_the_cap_gets_429(
    client, auth, database_url, settings
):
    """Credits item 3: lab operations get a per-user concurrency cap."""
    owner = uuid.uuid4()
    me = auth(owner)
    body = known_frame().to_csv(index=False).encode()
    uploaded = await client.post(
        f"{API}/datasets", params={"name": "capped", "format": "csv"}, content=body, headers=me
    )
    assert uploaded.status_code == 201, uploaded.text
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            for _ in range(settings.lab_max_running_per_user):
                await conn.execute(
                    text(
                        "INSERT INTO lab_operations (id, owner_id, operation, parameters,"
                        " status, created_at) VALUES (:id, :owner, 'profile', '{}', 'running',"
                        " :now)"
                    ),
                    {"id": uuid.uuid4(), "owner": owner, "now": datetime.now(UTC)},
                )
    finally:
        await engine.dispose()
    ref = {"dataset": "capped", "version": 1}
    refused = await client.post(f"{API}/open-lab/profile", headers=me, json=ref)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/lab-operations-busy")
    other = auth(uuid.uuid4())
    await client.post(
        f"{API}/datasets", params={"name": "capped", "format": "csv"}, content=body, headers=other
    )
    assert (
        await client.post(f"{API}/open-lab/profile", headers=other, json=ref)
    ).status_code == 202
