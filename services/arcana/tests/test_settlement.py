"""Every exit of a provider call settles; a long call keeps its reservation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from vareon_arcana.models import Reservation
from vareon_arcana.settings import ArcanaSettings
from vareon_contracts import topics

from .conftest import eventually, target
from .test_chat import PRICE_IN, PRICE_OUT, cost, new_session, parse_sse, seed

TTL_S = 1


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    return settings.model_copy(update={"reservation_ttl_s": TTL_S})


async def _reservations(db, user: uuid.UUID) -> list[Reservation]:
    async with db() as s:
        return list(await s.scalars(select(Reservation).where(Reservation.user_id == user)))


async def _session_on(client, signing_key, publish, db, model: str):
    """A funded user and a session whose category routes to ``model``: (headers, user, id)."""
    user = uuid.uuid4()
    me = signing_key.headers(user)
    category = await seed(
        publish,
        db,
        user_id=user,
        available=1_000_000,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    return me, user, await new_session(client, me, category)


async def test_an_unexpected_provider_error_still_settles(
    client, signing_key, publish, db, fake, event_log
):
    """Credits item 4: an error that is neither Unanswered nor Broken ends the stream with an
    error event, bills what was delivered and releases the reservation."""
    server, _ = fake
    model = server.behave(f"odd-{uuid.uuid4().hex[:6]}", kind="malformed", die_after=3)
    me, user, sid = await _session_on(client, signing_key, publish, db, model)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages", headers=me, json={"content": "hi"}
    )
    assert response.status_code == 200, response.text
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["chunk"] * 3 + ["error"]
    end = events[-1][1]
    assert end["status"] == "failed" and end["detail"]
    receipt = end["receipt"]
    assert "".join(data["delta"] for _, data in events[:-1]) == "w0 w1 w2"
    assert receipt["cost"] == cost(receipt["tokens_in"], receipt["tokens_out"]) > 0
    assert await _reservations(db, user) == []
    mine = lambda e: e.data["user_id"] == str(user)  # noqa: E731
    await event_log.wait_for(topics.ARCANA_USAGE, mine)  # the relay publishes after the reply
    usage = await event_log.all(topics.ARCANA_USAGE, mine, settle_s=0)
    assert [e.data["cost"] for e in usage] == [receipt["cost"]]


async def test_an_unexpected_error_before_any_text_is_a_503(client, signing_key, publish, db, fake):
    """Credits item 4: nothing delivered, nothing billed; the reservation is released."""
    server, _ = fake
    model = server.behave(f"odd0-{uuid.uuid4().hex[:6]}", kind="malformed", die_after=0)
    me, user, sid = await _session_on(client, signing_key, publish, db, model)
    response = await client.post(
        f"/api/v1/arcana/sessions/{sid}/messages",
        headers=me,
        json={"content": "hi", "stream": False},
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _reservations(db, user) == []


async def test_a_call_outliving_the_reservation_ttl_keeps_its_reservation(
    client, signing_key, publish, db, fake
):
    """Credits item 4: a call still streaming past the TTL extends its reservation, so
    the user's spendable balance keeps counting it."""
    server, _ = fake
    model = server.behave(f"slow-{uuid.uuid4().hex[:6]}", words=["w"] * 30, delay_s=0.2)
    me, user, sid = await _session_on(client, signing_key, publish, db, model)
    call = asyncio.create_task(
        client.post(
            f"/api/v1/arcana/sessions/{sid}/messages",
            headers=me,
            json={"content": "hi", "stream": False, "max_tokens": 100},
        )
    )
    reservation: Any = (await eventually(lambda: _reservations(db, user)))[0]
    # The state waited for is the clock itself: past the expiry the reservation had.
    past_expiry = reservation.expires_at + timedelta(seconds=0.3)
    await asyncio.sleep(max((past_expiry - datetime.now(UTC)).total_seconds(), 0))
    assert not call.done(), "the slow call should still be streaming"
    async with db() as s:
        live = await s.scalar(
            select(func.count())
            .select_from(Reservation)
            .where(Reservation.id == reservation.id, Reservation.expires_at > func.now())
        )
    status = (await client.get("/api/v1/arcana/status", headers=me)).json()
    answered = await call
    assert answered.status_code == 200, answered.text
    assert live == 1
    assert status["balance"]["spendable"] == 1_000_000 - reservation.amount
    assert await _reservations(db, user) == []
