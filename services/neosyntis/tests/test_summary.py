"""The dashboard's neosyntis section: the caller's datasets, workflows and jobs by state."""

import uuid

from .conftest import API
from .test_datasets import CSV, upload


async def test_the_callers_datasets_and_platform_totals(client, auth, user):
    await upload(client, user, "scores", CSV)
    await upload(client, user, "more", CSV)
    mine = (await client.get(f"{API}/summary", headers=user)).json()
    assert mine["scope"] == "user"
    assert mine["datasets"] == 2 and mine["workflows"] == 0
    assert mine["training_jobs_by_state"] == {} and mine["recent"] == []
    other = (await client.get(f"{API}/summary", headers=auth(uuid.uuid4()))).json()
    assert other["datasets"] == 0

    platform = {"scope": "platform"}
    assert (await client.get(f"{API}/summary", params=platform, headers=user)).status_code == 403
    admin = auth(uuid.uuid4(), "system:read")
    totals = (await client.get(f"{API}/summary", params=platform, headers=admin)).json()
    assert totals["datasets"] == 2
