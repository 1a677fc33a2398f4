"""Training is admitted against the wallet's balance, like arcana's calls (issue 15 item 3)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, update
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_contracts import Envelope, EventPayload, encode_kafka
from vareon_contracts.events.neosyntis import training_charge_reason
from vareon_neosyntis.db import inbox_table
from vareon_neosyntis.training.models import TrainingJob

from .conftest import API, balance
from .test_training import JOBS, job_body
from .training_support import eventually, known_frame, upload

FLOWS = f"{API}/workflows"
BUDGET = 1_000_000
INSUFFICIENT = "https://vareon.dev/problems/insufficient-credits"


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Any]:
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def announce(infrastructure: Any, db: Any) -> AsyncIterator[Any]:
    """Publish a wallet event through the broker and wait until neosyntis applied it."""
    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=False, acks="all"
    )
    await producer.start()

    async def send(payload: EventPayload) -> None:
        envelope = Envelope.wrap(payload, source="vareon-wallet")
        key, value, headers = encode_kafka(envelope)
        await producer.send_and_wait(payload.topic, value=value, key=key, headers=headers)

        async def applied() -> bool:
            async with db() as s:
                seen = await s.scalar(
                    select(func.count())
                    .select_from(inbox_table)
                    .where(
                        inbox_table.c.event_id == str(envelope.id),
                        inbox_table.c.consumer == "neosyntis.balances",
                    )
                )
                return bool(seen)

        await eventually(applied, timeout_s=90)

    try:
        yield send
    finally:
        await producer.stop()


async def _train(client: Any, me: dict[str, str], budget: int = BUDGET) -> Any:
    return await client.post(JOBS, json=job_body(budget_micro=budget), headers=me)


def _refused(response: Any) -> None:
    assert response.status_code == 402, response.text
    assert response.json()["type"] == INSUFFICIENT


async def test_a_user_without_credits_cannot_train(client, auth, announce):
    """Credits item 3: no wallet balance known, or none left, means 402, not a free job;
    once the wallet's balance event arrives, the same job is admitted."""
    owner = uuid.uuid4()
    me = auth(owner)
    await upload(client, me, "known", known_frame())
    _refused(await _train(client, me))
    await announce(balance(owner, 0))
    _refused(await _train(client, me))
    await announce(balance(owner, BUDGET, seq=2))
    created = await _train(client, me)
    assert created.status_code == 201, created.text


async def test_enough_for_one_job_is_not_enough_for_two(client, auth, announce):
    """Credits item 3: a queued job's budget stays held until the wallet has charged it."""
    owner = uuid.uuid4()
    me = auth(owner)
    await upload(client, me, "known", known_frame())
    await announce(balance(owner, BUDGET + BUDGET // 2))
    assert (await _train(client, me)).status_code == 201
    _refused(await _train(client, me))
    body = (await _train(client, me, BUDGET // 2 + 1)).json()
    assert body["required"] == BUDGET // 2 + 1 and body["available"] == BUDGET // 2


async def test_concurrent_submissions_are_admitted_one_at_a_time(client, auth, credit):
    """Credits item 3: the replica row lock serialises a user's admissions."""
    owner = uuid.uuid4()
    me = auth(owner)
    await credit(owner, 2 * BUDGET)
    await upload(client, me, "known", known_frame())
    answers = await asyncio.gather(*(_train(client, me) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [201, 201, 402, 402, 402]


async def test_what_the_wallet_charged_is_not_held_twice(client, auth, announce, db):
    """Credits item 3: a finished job holds its cost until the wallet announces the charge;
    after that the replica's available already includes it. A cancelled job holds nothing."""
    owner = uuid.uuid4()
    me = auth(owner)
    await upload(client, me, "known", known_frame())
    await announce(balance(owner, 2 * BUDGET))
    first = (await _train(client, me)).json()
    cancelled = (await _train(client, me)).json()
    assert (await client.post(f"{JOBS}/{cancelled['id']}/cancel", headers=me)).status_code == 202
    # The first job ran and cost 400_000 (as the runner records it): 600_000 of it is free.
    async with db.begin() as s:
        await s.execute(
            update(TrainingJob)
            .where(TrainingJob.id == uuid.UUID(first["id"]))
            .values(state="succeeded", cost_micro=400_000, charged_micro=400_000)
        )
    _refused(await _train(client, me, 1_600_001))
    charged = balance(
        owner,
        2 * BUDGET - 400_000,
        change=-400_000,
        kind="usage",
        reason=training_charge_reason(uuid.UUID(first["id"])),
        seq=2,
    )
    await announce(charged)
    await announce(charged)  # a redelivery is not a second charge
    _refused(await _train(client, me, 1_600_001))
    assert (await _train(client, me, 1_600_000)).status_code == 201


async def test_a_train_step_without_credits_fails_with_the_reason(client, auth, credit):
    """Credits item 3: a workflow's train step is admitted when it runs; refused, the step
    fails and says why."""
    owner = uuid.uuid4()
    me = auth(owner)
    await credit(owner, 10)
    await upload(client, me, "known", known_frame())
    steps = [
        {
            "id": "train",
            "kind": "train",
            "dataset": "known",
            "version": 1,
            "target": "label",
            "algorithm": "logistic_regression",
            "budget_micro": 1000,
        }
    ]
    flow = (await client.post(FLOWS, json={"name": "broke", "steps": steps}, headers=me)).json()
    run = (await client.post(f"{FLOWS}/{flow['id']}/runs", headers=me)).json()

    async def finished():
        got = (await client.get(f"{FLOWS}/runs/{run['id']}", headers=me)).json()
        return got if got["state"] != "running" else None

    done = await eventually(finished, timeout_s=90)
    step = done["steps"][0]
    assert done["state"] == "failed" and step["state"] == "failed", done
    assert "not enough credits" in step["error"] and step["training_job_id"] is None
