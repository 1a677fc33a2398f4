from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select
from vareon_chassis.embedded import free_port
from vareon_chassis.messaging.outbox import Outbox
from vareon_contracts.events.identity import UserDeletedV1
from vareon_neosyntis.db import IDEMPOTENCY_KEYS, OUTBOX
from vareon_neosyntis.registry.models import Model, ModelVersion
from vareon_neosyntis.storage import S3Storage

from .conftest import API

MIB = 1024 * 1024


@pytest.fixture
def s3():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket="datasets")
    try:
        yield client
    finally:
        server.stop()


def objects(client):
    return [o["Key"] for o in client.list_objects_v2(Bucket="datasets").get("Contents", ())]


async def test_s3_backend_behaves_the_same(app, client, user, s3):
    app.state.storage = S3Storage(s3, "datasets", prefix="neo/", part_size=5 * MIB)
    rows = [f"{i},{i * i},name-{i}\n".encode() for i in range(400_000)]  # ~9 MiB: 2 parts
    body = b"a,b,c\n" + b"".join(rows)
    response = await client.post(
        f"{API}/datasets", params={"name": "remote", "format": "csv"}, content=body, headers=user
    )
    assert response.status_code == 201, response.text
    latest = response.json()["latest"]
    assert latest["sha256"] == hashlib.sha256(body).hexdigest()
    assert latest["row_count"] == len(rows)
    [key] = objects(s3)
    assert key.startswith("neo/datasets/") and key.endswith(f"/{latest['id']}.csv")
    download = await client.get(f"{API}/datasets/remote/versions/1/download", headers=user)
    assert download.content == body

    broken = await client.post(
        f"{API}/datasets",
        params={"name": "remote", "format": "csv"},
        content=body + b"1,2\n",
        headers=user,
    )
    assert broken.status_code == 422 and broken.json()["line"] == len(rows) + 2
    assert len(objects(s3)) == 1
    assert not s3.list_multipart_uploads(Bucket="datasets").get("Uploads")


@pytest.mark.publishes_for("identity")  # stages identity's UserDeletedV1 on purpose
async def test_user_deleted_erases_datasets_and_anonymises_lineage(app, client, auth, database_url):
    owner_id = uuid.uuid4()
    owner = auth(owner_id)
    created = await client.post(
        f"{API}/datasets",
        params={"name": "mine", "format": "csv"},
        content=b"a,b\n1,2\n",
        headers=owner,
    )
    version = created.json()["latest"]
    assert (
        await client.post(f"{API}/models", json={"name": "kept-model"}, headers=owner)
    ).status_code == 201
    await client.post(
        f"{API}/models/kept-model/versions",
        headers=owner,
        json={"artifact_digest": "sha256:" + "d" * 64, "dataset_version_id": version["id"]},
    )
    storage = app.state.storage
    assert len(list(storage.root.rglob("*.csv"))) == 1
    step = {"id": "v", "kind": "validate_dataset", "dataset": "mine", "version": 1, "target": "a"}
    body = {"name": "f", "steps": [step]}
    flow = (await client.post(f"{API}/workflows", json=body, headers=owner)).json()
    keyed = {**owner, "Idempotency-Key": "run-1"}  # the quick action remembers the key
    ran = await client.post(f"{API}/workflows/{flow['id']}/runs", headers=keyed)
    assert ran.status_code == 201, ran.text

    # Publish as identity would: through an outbox relayed to the real topic.
    event = UserDeletedV1(user_id=owner_id, deleted_at=datetime.now(UTC))
    async with app.state.sessionmaker.begin() as session:
        await Outbox(OUTBOX.table, source="vareon-identity").publish(session, event)
    for _ in range(300):
        async with app.state.sessionmaker() as session:
            mv = await session.scalar(select(ModelVersion))
        if mv.registered_by is None:
            break
        await asyncio.sleep(0.05)
    assert mv.registered_by is None and mv.dataset_version_id is None
    assert mv.dataset_digest == version["sha256"]
    assert list(storage.root.rglob("*.csv")) == []
    assert (await client.get(f"{API}/datasets/mine", headers=owner)).status_code == 404
    async with app.state.sessionmaker() as session:  # private: no user can read it now
        model = await session.scalar(select(Model).where(Model.name == "kept-model"))
    assert model.owner_id is None
    async with app.state.sessionmaker() as session:
        keys = select(func.count()).where(IDEMPOTENCY_KEYS.c.owner_id == owner_id)
        assert await session.scalar(keys) == 0
