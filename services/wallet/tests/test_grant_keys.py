"""Admin grants: the Idempotency-Key is scoped to the admin who sends it."""

import asyncio
import uuid

from vareon_wallet.api import GRANT_PERMISSION

from .conftest import BONUS


async def test_concurrent_grants_with_one_key_for_two_users_answer_201_and_409(client, auth):
    """Credits item 5: two concurrent grants, same Idempotency-Key, different users."""
    admin, users = uuid.uuid4(), [uuid.uuid4() for _ in range(8)]
    for user in users:
        await client.post("/api/v1/wallet", headers=auth(user))
    headers = {**auth(admin, GRANT_PERMISSION), "Idempotency-Key": f"race-{uuid.uuid4()}"}

    async def grant(user: uuid.UUID):
        body = {"user_id": str(user), "amount_micro": 1_000_000, "reason": "race"}
        return await client.post("/api/v1/wallet/credits", json=body, headers=headers)

    responses = await asyncio.gather(*(grant(u) for u in users))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.headers["content-type"] == "application/problem+json"
    assert loser.json()["type"].endswith("/idempotency-key-reused")
    posted = [
        (await client.get("/api/v1/wallet", headers=auth(u))).json()["posted_micro"] for u in users
    ]
    assert sorted(posted) == [BONUS] * 7 + [BONUS + 1_000_000]


async def test_the_same_key_from_two_admins_is_two_grants(client, auth):
    """Credits item 5: the key is the admin's, not the platform's."""
    user, key = uuid.uuid4(), f"shared-{uuid.uuid4()}"
    await client.post("/api/v1/wallet", headers=auth(user))
    body = {"user_id": str(user), "amount_micro": 1_000_000, "reason": "two admins"}
    for admin in (uuid.uuid4(), uuid.uuid4()):
        headers = {**auth(admin, GRANT_PERMISSION), "Idempotency-Key": key}
        response = await client.post("/api/v1/wallet/credits", json=body, headers=headers)
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
    wallet = (await client.get("/api/v1/wallet", headers=auth(user))).json()
    assert wallet["posted_micro"] == BONUS + 2_000_000
