"""Deployments asked for by neosyntis workflow steps, produced to the real broker."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from vareon_contracts import Envelope, encode_kafka, topics
from vareon_contracts.events.neosyntis import ModelDeploymentRequestedV1
from vareon_myntrix.models import Deployment

from .conftest import API, heartbeat, register_device
from .test_deployments import _replicate


@pytest_asyncio.fixture
async def client(consuming_app):
    """The consuming app serves the API too (one app, one rollout loop)."""
    transport = httpx.ASGITransport(app=consuming_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://myntrix") as c:
        yield c


RUN_ID = uuid.uuid4()


def _asked(model: str, version: int, device_ids=()) -> ModelDeploymentRequestedV1:
    return ModelDeploymentRequestedV1(
        run_id=RUN_ID,
        deployment_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        model_name=model,
        version=version,
        device_ids=list(device_ids),
        requested_at=datetime.now(UTC),
        requester_permissions=["deployments:write"],
    )


async def _produce(bootstrap: str, *events: ModelDeploymentRequestedV1) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for event in events:  # a fresh envelope each time: the inbox alone cannot tell
            key, value, headers = encode_kafka(Envelope.wrap(event, source="/neosyntis"))
            await producer.send_and_wait(
                topics.NEOSYNTIS_WORKFLOW_RUN, value=value, key=key, headers=headers
            )
    finally:
        await producer.stop()


async def _dead_letters(event_log, *asked: ModelDeploymentRequestedV1) -> list[Envelope]:
    ids = {str(a.deployment_id) for a in asked}
    dead_letters = topics.dead_letter_topic(topics.NEOSYNTIS_WORKFLOW_RUN)
    return await event_log.all(
        dead_letters, lambda e: e.data.get("deployment_id") in ids, settle_s=0
    )


async def _answer(event_log, deployment_id: uuid.UUID, verb: str):
    found = await event_log.wait_for(
        topics.MYNTRIX_DEPLOYMENT,
        lambda e: e.data["deployment_id"] == str(deployment_id) and e.type.endswith(verb),
    )
    return found[0]


async def test_each_request_is_answered_once_and_an_eligible_one_rolls_out(
    consuming_app, client, operator, infrastructure, sessionmaker, event_log
):
    model = f"m-{uuid.uuid4().hex[:6]}"
    await _replicate(sessionmaker, 1, 2, model=model)
    online, resting = [await register_device(client, operator) for _ in range(2)]
    await register_device(client, operator)  # never heard from: offline, not chosen
    for d in (online, resting):
        assert (await heartbeat(client, d, running={model: 1})).status_code == 200
    await client.put(
        f"{API}/hardware/{resting['id']}/status",
        headers=operator,
        json={"admin_state": "maintenance"},
    )
    asked, ghost_version, nowhere = _asked(model, 2), _asked(model, 7), _asked(model, 1)

    # One run's requests share a key, so they arrive in this order; when ``nowhere`` comes
    # the only online device is still in ``asked``'s rollout of the model.
    await _produce(infrastructure.kafka_bootstrap, asked, asked, ghost_version, nowhere)

    requested = await _answer(event_log, asked.deployment_id, "requested.v1")
    assert requested.data["device_ids"] == [online["id"]]
    failed = await _answer(event_log, ghost_version.deployment_id, "failed.v1")
    assert failed.data["reason"] == f"{model} version 7 is not registered"
    failed = await _answer(event_log, nowhere.deployment_id, "failed.v1")
    assert failed.data["reason"].startswith("no device is active, online")
    shown = await client.get(f"{API}/deployments/{ghost_version.deployment_id}", headers=operator)
    assert shown.json()["state"] == "failed" and shown.json()["targets"] == []

    for _ in range(100):  # the device installs what its heartbeat answer asks for
        answer = (await heartbeat(client, online, running={model: 1})).json()
        if answer["desired_models"].get(model) == 2:
            break
        await asyncio.sleep(0.1)
    await heartbeat(client, online, running={model: 2})
    succeeded = await _answer(event_log, asked.deployment_id, "succeeded.v1")
    assert succeeded.data["succeeded"] == 1
    shown = await client.get(f"{API}/deployments/{asked.deployment_id}", headers=operator)
    assert shown.json()["state"] == "succeeded"

    async with sessionmaker() as session:
        rows = list(await session.scalars(select(Deployment).where(Deployment.model_name == model)))
    assert {(d.id, d.requested_by) for d in rows} == {
        (a.deployment_id, a.owner_id) for a in (asked, ghost_version, nowhere)
    }
    answers = await event_log.all(
        topics.MYNTRIX_DEPLOYMENT,
        lambda e: e.data["deployment_id"] == str(asked.deployment_id),
        settle_s=0,
    )
    assert sum(e.type.endswith("requested.v1") for e in answers) == 1
    assert not [e for e in answers if e.type.endswith("failed.v1")]
    assert await _dead_letters(event_log, asked, ghost_version, nowhere) == []


async def test_a_request_whose_requester_lacks_deployments_write_deploys_nothing(
    consuming_app, client, operator, infrastructure, sessionmaker, event_log
):
    """Issue 16 item 1: a forged (or plain user's) request is answered failed, and no
    device is targeted."""
    model = f"m-{uuid.uuid4().hex[:6]}"
    await _replicate(sessionmaker, 1, model=model)
    online = await register_device(client, operator)
    assert (await heartbeat(client, online)).status_code == 200
    forged = ModelDeploymentRequestedV1(
        run_id=uuid.uuid4(),
        deployment_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        model_name=model,
        version=1,
        requested_at=datetime.now(UTC),
    )
    await _produce(infrastructure.kafka_bootstrap, forged)

    failed = await _answer(event_log, forged.deployment_id, "failed.v1")
    assert "deployments:write" in failed.data["reason"]
    shown = await client.get(f"{API}/deployments/{forged.deployment_id}", headers=operator)
    assert shown.json()["state"] == "failed" and shown.json()["targets"] == []
    answer = (await heartbeat(client, online)).json()
    assert model not in answer["desired_models"]
