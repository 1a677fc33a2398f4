from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from vareon_contracts import Envelope, encode_kafka, topics
from vareon_contracts.events.myntrix import DeploymentSucceededV1
from vareon_neosyntis.workflows import dag

from .conftest import API
from .training_support import eventually, known_frame, upload, workers

FLOWS = f"{API}/workflows"


def pipeline_steps():
    data = {"dataset": "known", "version": 1, "target": "label"}
    return [
        {"id": "check", "kind": "validate_dataset", **data},
        {
            "id": "train",
            "kind": "train",
            "depends_on": ["check"],
            **data,
            "algorithm": "logistic_regression",
            "budget_micro": 5_000_000,
        },
        {
            "id": "evaluate",
            "kind": "evaluate",
            "depends_on": ["train"],
            "train_step": "train",
            "min_metrics": {"accuracy": 0.6},
        },
        {
            "id": "register",
            "kind": "register",
            "depends_on": ["evaluate"],
            "train_step": "train",
            "model_name": "flow-model",
        },
        {
            "id": "promote",
            "kind": "move_alias",
            "depends_on": ["register"],
            "register_step": "register",
            "alias": "champion",
        },
        {
            "id": "deploy",
            "kind": "request_deployment",
            "depends_on": ["promote"],
            "register_step": "register",
        },
    ]


def test_engine_rules():
    deps = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    states = {"a": "failed", "b": "pending", "c": "pending", "d": "pending"}
    assert dag.doomed(states, deps) == ["b", "c"]
    assert dag.ready(states, deps) == ["d"]
    assert dag.outcome(states) is None
    assert dag.outcome({"a": "succeeded", "b": "skipped"}) == "failed"
    assert dag.find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "c", "b", "a"]


async def test_cycles_and_bad_references_are_422(client, user):
    steps = pipeline_steps()
    steps[0]["depends_on"] = ["deploy"]
    response = await client.post(FLOWS, json={"name": "loop", "steps": steps}, headers=user)
    assert response.status_code == 422
    body = response.json()
    assert "cycle" in body["detail"] and body["cycle"][0] == body["cycle"][-1]
    assert set(body["cycle"]) >= {"check", "deploy"}
    steps = pipeline_steps()
    steps[3]["depends_on"] = ["check"]  # reads train's outputs without depending on it
    response = await client.post(FLOWS, json={"name": "refs", "steps": steps}, headers=user)
    assert response.status_code == 422 and "must depend on it" in response.json()["detail"]
    unknown = [{"id": "x", "kind": "teleport"}]
    response = await client.post(FLOWS, json={"name": "odd", "steps": unknown}, headers=user)
    assert response.status_code == 422


async def test_deployment_steps_need_deployments_write(client, auth):
    """Issue 16 item 1: a plain user's workflow with a request_deployment step is refused
    (403) at creation, at replacement and at run time."""
    owner = uuid.uuid4()
    plain, deployer = auth(owner), auth(owner, "deployments:write")
    body = {"name": "fleet", "steps": pipeline_steps()}
    refused = await client.post(FLOWS, json=body, headers=plain)
    assert refused.status_code == 403, refused.text
    assert "deployments:write" in refused.json()["detail"]

    harmless = {"name": "harmless", "steps": pipeline_steps()[:-1]}
    flow = (await client.post(FLOWS, json=harmless, headers=plain)).json()
    replaced = await client.put(f"{FLOWS}/{flow['id']}", json=body, headers=plain)
    assert replaced.status_code == 403

    created = await client.post(FLOWS, json=body, headers=deployer)
    assert created.status_code == 201
    run = await client.post(f"{FLOWS}/{created.json()['id']}/runs", headers=plain)
    assert run.status_code == 403
    assert (await client.post(f"{FLOWS}/{flow['id']}/runs", headers=plain)).status_code == 201


@pytest.mark.timeout(400)  # a worker process and several bounded waits on a loaded machine
async def test_a_run_trains_registers_promotes_and_deploys(
    client, auth, credit, settings, tmp_path, event_log, infrastructure
):
    owner = uuid.uuid4()
    await credit(owner)
    user = auth(owner, "deployments:write")
    await upload(client, user, "known", known_frame())
    created = await client.post(
        FLOWS, json={"name": "ship-it", "steps": pipeline_steps()}, headers=user
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    listed = (await client.get(FLOWS, headers=user)).json()
    assert [w["id"] for w in listed] == [flow["id"]]
    run = (await client.post(f"{FLOWS}/{flow['id']}/runs", headers=user)).json()
    assert {s["state"] for s in run["steps"]} == {"pending"}

    with workers(settings, tmp_path, "w"):
        requested = await event_log.wait_for(
            topics.NEOSYNTIS_WORKFLOW_RUN,
            lambda e: e.type.endswith("deployment-requested.v1") and e.data["run_id"] == run["id"],
            timeout_s=180,  # a worker process starting (scikit-learn) on a loaded machine
        )
    request = requested[0].data
    assert request["model_name"] == "flow-model" and request["version"] == 1
    assert request["requester_permissions"] == ["deployments:write"]
    alias = (await client.get(f"{API}/models/flow-model/aliases/champion", headers=user)).json()
    assert alias["version"] == 1

    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=False
    )
    await producer.start()
    try:
        payload = DeploymentSucceededV1(
            deployment_id=request["deployment_id"],
            model_name="flow-model",
            version=1,
            succeeded=1,
            failed=0,
            skipped=0,
            finished_at=datetime.now(UTC),
        )
        key, value, headers = encode_kafka(Envelope.wrap(payload, source="vareon-myntrix"))
        await producer.send_and_wait(payload.topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    async def finished():
        got = (await client.get(f"{FLOWS}/runs/{run['id']}", headers=user)).json()
        return got if got["state"] != "running" else None

    done = await eventually(finished, timeout_s=90)
    assert done["state"] == "succeeded", done
    steps = {s["step_id"]: s for s in done["steps"]}
    assert all(s["state"] == "succeeded" and s["attempt"] == 1 for s in steps.values())
    assert steps["evaluate"]["outputs"]["metrics"]["accuracy"] >= 0.6
    version = (await client.get(f"{API}/models/flow-model/versions/1", headers=user)).json()
    assert version["training_job_id"] == steps["train"]["training_job_id"]
    assert version["metrics"] == steps["evaluate"]["outputs"]["metrics"]
    finished_events = await event_log.wait_for(
        topics.NEOSYNTIS_WORKFLOW_RUN,
        lambda e: e.type.endswith("run.finished.v1") and e.data["run_id"] == run["id"],
    )
    assert finished_events[0].data["state"] == "succeeded"


async def test_a_failed_step_retries_then_skips_what_depends_on_it(client, user):
    await upload(client, user, "known", known_frame())
    steps = [
        {
            "id": "check",
            "kind": "validate_dataset",
            "dataset": "known",
            "version": 1,
            "target": "missing",
            "retries": 1,
            "retry_delay_s": 0.2,
        },
        {
            "id": "train",
            "kind": "train",
            "depends_on": ["check"],
            "dataset": "known",
            "version": 1,
            "target": "label",
            "algorithm": "ridge",
            "budget_micro": 1000,
        },
    ]
    flow = (await client.post(FLOWS, json={"name": "doomed", "steps": steps}, headers=user)).json()
    run = (await client.post(f"{FLOWS}/{flow['id']}/runs", headers=user)).json()

    async def finished():
        got = (await client.get(f"{FLOWS}/runs/{run['id']}", headers=user)).json()
        return got if got["state"] != "running" else None

    done = await eventually(finished, timeout_s=90)
    by_id = {s["step_id"]: s for s in done["steps"]}
    assert done["state"] == "failed"
    assert by_id["check"]["state"] == "failed" and by_id["check"]["attempt"] == 2
    assert "no column 'missing'" in by_id["check"]["error"]
    assert by_id["train"]["state"] == "skipped"
    again = await client.post(f"{FLOWS}/runs/{run['id']}/cancel", headers=user)
    assert again.status_code == 409
