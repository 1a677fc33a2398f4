import uuid

from vareon_wallet.api import GRANT_PERMISSION, READ_ANY_PERMISSION

from .conftest import BONUS


async def test_post_creates_once_then_get(client, auth):
    user = uuid.uuid4()
    assert (await client.get("/api/v1/wallet", headers=auth(user))).status_code == 404
    first = await client.post("/api/v1/wallet", headers=auth(user))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["currency"] == "credits"
    assert body["posted_micro"] == body["available_micro"] == BONUS
    assert body["posted"] == "10.000000" and body["pending_micro"] == 0
    again = await client.post("/api/v1/wallet", headers=auth(user))
    assert again.status_code == 200 and again.json()["posted_micro"] == BONUS
    got = await client.get("/api/v1/wallet", headers=auth(user))
    assert got.json()["wallet_id"] == body["wallet_id"]


async def test_requires_a_valid_token(client, auth):
    response = await client.get("/api/v1/wallet")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    forged = {"Authorization": "Bearer not.a.token"}
    assert (await client.get("/api/v1/wallet", headers=forged)).status_code == 401


async def test_grant_is_idempotent_per_key(client, auth):
    user, admin = uuid.uuid4(), uuid.uuid4()
    await client.post("/api/v1/wallet", headers=auth(user))
    grant = {"user_id": str(user), "amount_micro": 2_500_000, "reason": "support"}
    admin_headers = {**auth(admin, GRANT_PERMISSION), "Idempotency-Key": "grant-1"}

    first = await client.post("/api/v1/wallet/credits", json=grant, headers=admin_headers)
    assert first.status_code == 201, first.text
    replay = await client.post("/api/v1/wallet/credits", json=grant, headers=admin_headers)
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"

    other = {**grant, "amount_micro": 9}
    conflict = await client.post("/api/v1/wallet/credits", json=other, headers=admin_headers)
    assert conflict.status_code == 409
    assert conflict.json()["type"].endswith("/idempotency-key-reused")

    wallet = (await client.get("/api/v1/wallet", headers=auth(user))).json()
    assert wallet["posted_micro"] == BONUS + 2_500_000


async def test_grant_needs_permission_and_key(client, auth):
    user = uuid.uuid4()
    grant = {"user_id": str(user), "amount_micro": 1, "reason": "x"}
    no_perm = await client.post(
        "/api/v1/wallet/credits", json=grant, headers={**auth(user), "Idempotency-Key": "k"}
    )
    assert no_perm.status_code == 403
    no_key = await client.post(
        "/api/v1/wallet/credits", json=grant, headers=auth(user, GRANT_PERMISSION)
    )
    assert no_key.status_code == 422
    missing = await client.post(
        "/api/v1/wallet/credits",
        json=grant,
        headers={**auth(user, GRANT_PERMISSION), "Idempotency-Key": "k"},
    )
    assert missing.status_code == 404


async def test_admin_reads_any_wallet(client, auth):
    user, admin = uuid.uuid4(), uuid.uuid4()
    await client.post("/api/v1/wallet", headers=auth(user))
    assert (await client.get(f"/api/v1/wallet/{user}", headers=auth(admin))).status_code == 403
    seen = await client.get(f"/api/v1/wallet/{user}", headers=auth(admin, READ_ANY_PERMISSION))
    assert seen.status_code == 200 and seen.json()["user_id"] == str(user)


async def test_transactions_paginate_and_filter(client, auth):
    user, admin = uuid.uuid4(), uuid.uuid4()
    await client.post("/api/v1/wallet", headers=auth(user))
    for i in range(4):
        await client.post(
            "/api/v1/wallet/credits",
            json={"user_id": str(user), "amount_micro": i + 1, "reason": f"g{i}"},
            headers={**auth(admin, GRANT_PERMISSION), "Idempotency-Key": f"p{i}"},
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/api/v1/wallet/transactions", params=params, headers=auth(user))
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [t["kind"] for t in seen] == ["grant"] * 4 + ["signup-bonus"]
    assert [t["amount_micro"] for t in seen[:4]] == [4, 3, 2, 1]
    assert seen[0]["balance_after_micro"] == BONUS + 10
    grants = (
        await client.get(
            "/api/v1/wallet/transactions", params={"kind": "signup-bonus"}, headers=auth(user)
        )
    ).json()
    assert [t["kind"] for t in grants["items"]] == ["signup-bonus"]
    future = (
        await client.get(
            "/api/v1/wallet/transactions",
            params={"since": "2999-01-01T00:00:00Z"},
            headers=auth(user),
        )
    ).json()
    assert future["items"] == []
    bad = await client.get(
        "/api/v1/wallet/transactions", params={"cursor": "!!"}, headers=auth(user)
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-cursor")


async def test_holds_reserve_capture_release(client, auth):
    user, stranger = uuid.uuid4(), uuid.uuid4()
    await client.post("/api/v1/wallet", headers=auth(user))
    hold = await client.post(
        "/api/v1/wallet/holds",
        headers=auth(user),
        json={"amount_micro": 4_000_000, "reason": "chat"},
    )
    assert hold.status_code == 201, hold.text
    wallet = (await client.get("/api/v1/wallet", headers=auth(user))).json()
    assert (wallet["posted_micro"], wallet["pending_micro"], wallet["available_micro"]) == (
        BONUS,
        4_000_000,
        BONUS - 4_000_000,
    )
    hold_id = hold.json()["id"]
    foreign = await client.post(f"/api/v1/wallet/holds/{hold_id}/capture", headers=auth(stranger))
    assert foreign.status_code == 404
    captured = await client.post(
        f"/api/v1/wallet/holds/{hold_id}/capture",
        headers=auth(user),
        json={"amount_micro": 1_500_000},
    )
    assert captured.status_code == 200 and captured.json()["status"] == "captured"
    wallet = (await client.get("/api/v1/wallet", headers=auth(user))).json()
    assert (wallet["posted_micro"], wallet["pending_micro"]) == (BONUS - 1_500_000, 0)
    again = await client.post(f"/api/v1/wallet/holds/{hold_id}/release", headers=auth(user))
    assert again.status_code == 409

    too_big = await client.post(
        "/api/v1/wallet/holds", headers=auth(user), json={"amount_micro": BONUS, "reason": "chat"}
    )
    assert too_big.status_code == 409
    assert too_big.json()["type"].endswith("/insufficient-funds")
    second = (
        await client.post(
            "/api/v1/wallet/holds",
            headers=auth(user),
            json={"amount_micro": 1_000, "reason": "chat"},
        )
    ).json()
    released = await client.post(f"/api/v1/wallet/holds/{second['id']}/release", headers=auth(user))
    assert released.json()["status"] == "released"
    wallet = (await client.get("/api/v1/wallet", headers=auth(user))).json()
    assert wallet["pending_micro"] == 0
