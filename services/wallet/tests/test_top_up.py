"""Issue 20 item 7: the quick action "top up my test wallet" (admins), exactly once a key."""

import asyncio
import uuid

from sqlalchemy import func, select
from vareon_wallet.api import GRANT_PERMISSION
from vareon_wallet.billing import TOP_UP_REASON
from vareon_wallet.models import Transfer
from vareon_wallet.schemas import TOP_UP_DEFAULT

from .conftest import BONUS

TOP_UP = "/api/v1/wallet/top-up"


async def _top_ups(sessionmaker, admin: uuid.UUID) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(
            Transfer.idempotency_key.startswith(f"top-up:{admin}:"),
            Transfer.reason == TOP_UP_REASON,
        )
        return int(await session.scalar(query) or 0)


async def test_a_top_up_credits_the_admins_wallet_once_per_key(client, auth, sessionmaker):
    admin = uuid.uuid4()
    keyed = {**auth(admin, GRANT_PERMISSION), "Idempotency-Key": "top-1"}

    first = await client.post(TOP_UP, headers=keyed)  # no wallet yet: opened on the way
    assert first.status_code == 201, first.text
    credited = first.json()
    assert credited["user_id"] == str(admin) and credited["amount_micro"] == TOP_UP_DEFAULT
    assert "Idempotent-Replayed" not in first.headers
    same = {"amount_micro": TOP_UP_DEFAULT}  # the default spelled out is the same request
    again = await client.post(TOP_UP, json=same, headers=keyed)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == credited

    other = await client.post(TOP_UP, json={"amount_micro": 5}, headers=keyed)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")

    racing = {**keyed, "Idempotency-Key": "top-2"}
    body = {"amount_micro": 7_000_000}
    answers = await asyncio.gather(
        *(client.post(TOP_UP, json=body, headers=racing) for _ in range(4))
    )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["transfer_id"] for a in answers}) == 1

    assert await _top_ups(sessionmaker, admin) == 2
    wallet = (await client.get("/api/v1/wallet", headers=auth(admin))).json()
    assert wallet["posted_micro"] == BONUS + TOP_UP_DEFAULT + 7_000_000


async def test_a_top_up_is_for_admins_with_a_key(client, auth, sessionmaker):
    user = uuid.uuid4()
    key = {"Idempotency-Key": "k"}
    assert (await client.post(TOP_UP, headers=key)).status_code == 401
    refused = await client.post(TOP_UP, headers={**auth(user), **key})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    no_key = await client.post(TOP_UP, headers=auth(user, GRANT_PERMISSION))
    assert no_key.status_code == 422
    someone_else = {"amount_micro": 1, "user_id": str(uuid.uuid4())}
    other = await client.post(
        TOP_UP, json=someone_else, headers={**auth(user, GRANT_PERMISSION), **key}
    )
    assert other.status_code == 422  # only one's own wallet
    assert await _top_ups(sessionmaker, user) == 0
