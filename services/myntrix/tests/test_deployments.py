import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from vareon_contracts import Envelope, encode_kafka, topics
from vareon_contracts.events.neosyntis import ModelVersionRegisteredV1
from vareon_myntrix import model_replica
from vareon_myntrix.models import ModelVersion

from .conftest import API, heartbeat, register_device


def _registered(version: int, model: str = "llama") -> ModelVersionRegisteredV1:
    return ModelVersionRegisteredV1(
        model_id=uuid.uuid5(uuid.NAMESPACE_DNS, model),
        model_name=model,
        version=version,
        artifact_digest=f"sha256:{version:064d}",
        registered_at=datetime.now(UTC),
    )


async def _replicate(sessionmaker, *versions: int, model: str = "llama") -> None:
    async with sessionmaker.begin() as session:
        for v in versions:
            await model_replica.replicate_version(session, _registered(v, model))


async def test_a_registration_produced_twice_to_the_broker_makes_one_replica_row(
    consuming_app, consuming, infrastructure, sessionmaker, event_log
):
    model = f"m-{uuid.uuid4().hex[:6]}"
    envelope = Envelope.wrap(_registered(3, model), source="/neosyntis")
    key, value, headers = encode_kafka(envelope)
    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=False
    )
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(
                topics.NEOSYNTIS_MODEL, value=value, key=key, headers=headers
            )
    finally:
        await producer.stop()

    async def rows() -> int:
        async with sessionmaker() as session:
            return await session.scalar(
                select(func.count())
                .select_from(ModelVersion)
                .where(ModelVersion.model_name == model)
            )

    # the group committed past both copies: the duplicate was handled, not still on its way
    await event_log.consumed(
        consuming.consumer_group_prefix + "myntrix.models",
        topics.NEOSYNTIS_MODEL,
        lambda e: e.id == envelope.id,
        count=2,
    )
    assert await rows() == 1


async def test_an_unregistered_version_is_a_422_problem(client, operator):
    device = await register_device(client, operator)
    response = await client.post(
        f"{API}/deployments",
        headers=operator,
        json={"model_name": "ghost", "version": 1, "device_ids": [device["id"]]},
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("unknown-model-version")


async def test_offline_and_maintenance_devices_are_skipped_and_reported(
    client, operator, sessionmaker
):
    await _replicate(sessionmaker, 1)
    online, offline, resting = [await register_device(client, operator) for _ in range(3)]
    for d in (online, resting):
        await heartbeat(client, d, running={"llama": 0 + 1})
    await client.put(
        f"{API}/hardware/{resting['id']}/status",
        headers=operator,
        json={"admin_state": "maintenance"},
    )
    response = await client.post(
        f"{API}/deployments",
        headers=operator,
        json={
            "model_name": "llama",
            "version": 1,
            "device_ids": [online["id"], offline["id"], resting["id"]],
        },
    )
    assert response.status_code == 201, response.text
    reasons = {t["device_id"]: (t["state"], t["reason"]) for t in response.json()["targets"]}
    assert reasons == {
        online["id"]: ("pending", None),
        offline["id"]: ("skipped", "offline"),
        resting["id"]: ("skipped", "maintenance"),
    }


async def _drive(client, operator, fleet, failing, deployment_id) -> dict:
    """Simulated devices: healthy ones install what a heartbeat answer asks for and report it
    at once (not a round of ten heartbeats later: on a busy machine that round outlasted the
    2 s device timeout, and a healthy device was counted failed)."""
    running = dict.fromkeys(fleet, 1)
    for _ in range(200):
        for i, device in fleet.items():
            answer = (await heartbeat(client, device, running={"llama": running[i]})).json()
            wanted = answer["desired_models"].get("llama", running[i])
            if i not in failing and wanted != running[i]:
                running[i] = wanted
                await heartbeat(client, device, running={"llama": running[i]})
        shown = (await client.get(f"{API}/deployments/{deployment_id}", headers=operator)).json()
        if shown["state"] != "rolling_out":
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError("the rollout never finished")


async def test_a_rollout_over_ten_devices_with_three_failing_aborts_at_the_threshold(
    client, operator, sessionmaker, event_log
):
    await _replicate(sessionmaker, 1, 2)
    devices = [await register_device(client, operator) for _ in range(10)]
    fleet = {d["id"]: d for d in devices}
    for d in devices:
        await heartbeat(client, d, running={"llama": 1})
    failing = {d["id"] for d in devices[:3]}
    response = await client.post(
        f"{API}/deployments",
        headers=operator,
        json={
            "model_name": "llama",
            "version": 2,
            "device_ids": [d["id"] for d in devices],
            "batch_size": 2,
            "failure_threshold": 0.25,
            "device_timeout_s": 2.0,
        },
    )
    assert response.status_code == 201, response.text
    deployment = response.json()

    final = await _drive(client, operator, fleet, failing, deployment["id"])
    assert final["state"] == "failed" and final["reason"] == "failure threshold exceeded"
    states = [t["state"] for t in final["targets"]]
    assert states == ["failed"] * 3 + ["succeeded"] + ["cancelled"] * 6
    for d in devices[4:]:
        shown = (await client.get(f"{API}/hardware/{d['id']}", headers=operator)).json()
        assert shown["running_models"] == {"llama": 1}
        assert shown["desired_models"].get("llama", 1) == 1
    failed = await event_log.wait_for(
        topics.MYNTRIX_DEPLOYMENT,
        lambda e: e.data["deployment_id"] == deployment["id"] and e.type.endswith("failed.v1"),
    )
    assert failed[0].data["failed"] == 3 and failed[0].data["cancelled"] == 6

    rollback = await client.post(f"{API}/deployments/{deployment['id']}/rollback", headers=operator)
    assert rollback.status_code == 201, rollback.text
    assert rollback.json()["version"] == 1 and rollback.json()["rollback_of"] == deployment["id"]
    assert [t["device_id"] for t in rollback.json()["targets"]] == [devices[3]["id"]]


async def test_an_aborted_rollout_stops_and_pins_are_respected(client, operator, sessionmaker):
    await _replicate(sessionmaker, 1, 2)
    a, b, c = [await register_device(client, operator) for _ in range(3)]
    await client.put(f"{API}/hardware/{c['id']}/pins/llama", headers=operator, json={"version": 1})
    for d in (a, b, c):
        await heartbeat(client, d, running={"llama": 1})
    deployment = (
        await client.post(
            f"{API}/deployments",
            headers=operator,
            json={
                "model_name": "llama",
                "version": 2,
                "device_ids": [a["id"], b["id"], c["id"]],
                "batch_size": 1,
                "device_timeout_s": 60,
            },
        )
    ).json()
    targets = {t["device_id"]: t for t in deployment["targets"]}
    assert targets[c["id"]]["reason"] == "pinned"
    aborted = await client.post(f"{API}/deployments/{deployment['id']}/abort", headers=operator)
    assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
    assert {t["state"] for t in aborted.json()["targets"]} <= {"cancelled", "skipped"}
    again = await client.post(f"{API}/deployments/{deployment['id']}/abort", headers=operator)
    assert again.status_code == 409
    listed = await client.get(f"{API}/deployments", headers=operator, params={"state": "aborted"})
    assert deployment["id"] in [d["id"] for d in listed.json()["items"]]
