from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select
from vareon_arcana.models import Reservation

from .conftest import eventually
from .test_chat import PRICE_IN, PRICE_OUT, new_session, seed, target, usage_published


async def test_twenty_parallel_calls_on_a_balance_for_one_admit_exactly_one(
    client, signing_key, publish, db, fake, event_log
):
    server, _ = fake
    user = uuid.uuid4()
    me = signing_key.headers(user)
    model = server.behave(f"pricey-{uuid.uuid4().hex[:6]}", words=["w"] * 60)
    # One call may cost ~30 prompt tokens * 2 + 100 output tokens * 10 ~= 1,070 micro-credits
    # and costs 100 * 2 + 60 * 10 = 800: after it, 700 are left, too few for a second one.
    category = await seed(
        publish,
        db,
        user_id=user,
        available=1_500,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    sids = [await new_session(client, me, category) for _ in range(20)]

    async def ask(sid):
        return await client.post(
            f"/api/v1/arcana/sessions/{sid}/messages",
            headers=me,
            json={"content": "hi", "stream": False, "max_tokens": 100},
        )

    responses = await asyncio.gather(*(ask(sid) for sid in sids))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [402] * 19, [r.text for r in responses if r.status_code != 402]
    refused = next(r for r in responses if r.status_code == 402)
    assert refused.json()["type"].endswith("/insufficient-credits")
    assert refused.headers["content-type"].startswith("application/problem+json")

    async def released():
        async with db() as s:
            return (
                await s.scalar(
                    select(func.count()).select_from(Reservation).where(Reservation.user_id == user)
                )
                == 0
            )

    await eventually(released)
    assert await usage_published(db, user) == 1


async def test_paid_model_without_a_known_balance_is_refused(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"paid-{uuid.uuid4().hex[:6]}")
    category = await seed(publish, db, targets=[target(model, price_in=1, price_out=1)])
    sid = await new_session(client, me, category)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages", headers=me, json={"content": "hi"}
    )
    assert response.status_code == 402
    assert model not in server.calls


async def test_paid_models_need_a_verified_email_free_ones_do_not(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user = uuid.uuid4()
    unverified = signing_key.headers(user, email_verified=False)
    paid = server.behave(f"paid-{uuid.uuid4().hex[:6]}")
    paid_category = await seed(publish, db, targets=[target(paid, price_in=1, price_out=1)])
    sid = await new_session(client, unverified, paid_category)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages", headers=unverified, json={"content": "hi"}
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/email-not-verified")
    assert paid not in server.calls

    free = server.behave(f"free-{uuid.uuid4().hex[:6]}", words=["ok"])
    free_category = await seed(publish, db, targets=[target(free)])
    sid = await new_session(client, unverified, free_category)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=unverified,
        json={"content": "hi", "stream": False},
    )
    assert response.status_code == 200, response.text


async def test_offline_answers_free_when_no_provider_is_configured(
    client, signing_key, publish, db, fake
):
    me = signing_key.headers(uuid.uuid4())
    category = await seed(publish, db, targets=[target("gpt-4o-mini", "openai", 150, 600)])
    sid = await new_session(client, me, category)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=me,
        json={"content": "what is 2+2?", "stream": False},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content"].startswith("Vareon is offline") and "what is 2+2?" in body["content"]
    assert body["receipt"]["model"] == "vareon-offline-1" and body["receipt"]["cost"] == 0
