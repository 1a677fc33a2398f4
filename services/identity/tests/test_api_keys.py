"""API keys (issue 19): made once, stored hashed, listed, renamed, revoked; published as events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from vareon_contracts import topics

from .conftest import Client, bearer

KEYS = "/api/v1/auth/api-keys"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


async def sql(database_url: str, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(libpq(database_url), autocommit=True) as db:
        cursor = await db.execute(statement, args)
        return await cursor.fetchall() if cursor.description else []


async def verified(client: Client, database_url: str, *, admin: bool = False) -> tuple[dict, dict]:
    user = await client.register()
    await sql(database_url, "UPDATE users SET email_verified_at = now() WHERE id = %s", user["id"])
    if admin:
        await sql(
            database_url, "INSERT INTO user_roles (user_id, role) VALUES (%s, 'admin')", user["id"]
        )
    return user, await client.login(user["email"])


async def test_a_key_is_shown_once_and_stored_hashed(client, database_url, event_log):
    _, tokens = await verified(client, database_url)
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    made = await client.post(
        KEYS,
        headers=bearer(tokens),
        json={
            "name": "ci",
            "scopes": ["chat"],
            "expires_at": expires,
            "budget_total": 5_000_000,
            "budget_period": "day",
            "budget_per_period": 1_000_000,
            "rpm_limit": 60,
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    secret = body["key"]
    assert secret.startswith("vk-") and len(secret) == 3 + 43  # 32 random bytes, base64url
    assert body["prefix"] == secret[:11]
    assert body["scopes"] == ["chat"] and body["rpm_limit"] == 60

    [(stored,)] = await sql(database_url, "SELECT key_hash FROM api_keys WHERE id = %s", body["id"])
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    everything = await sql(database_url, "SELECT * FROM api_keys WHERE id = %s", body["id"])
    assert secret not in repr(everything)

    [event] = await event_log.wait_for(
        topics.IDENTITY_API_KEY, lambda e: e.data.get("key_id") == body["id"]
    )
    assert event.type == "vareon.identity.api-key.created.v1"
    assert event.key == body["id"]
    assert event.data["key_hash"] == stored and secret not in str(event.data)
    assert event.data["owner_roles"] == ["user"] and event.data["budget_per_period"] == 1_000_000

    listed = (await client.get(KEYS, headers=bearer(tokens))).json()
    assert [k["id"] for k in listed["items"]] == [body["id"]]
    assert "key" not in listed["items"][0]


async def test_rename_and_revoke_publish_and_revoked_keys_leave_the_list(
    client, database_url, event_log
):
    _, tokens = await verified(client, database_url)
    key = (await client.post(KEYS, headers=bearer(tokens), json={"name": "a"})).json()
    renamed = await client.patch(f"{KEYS}/{key['id']}", headers=bearer(tokens), json={"name": "b"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "b"
    revoked = await client.delete(f"{KEYS}/{key['id']}", headers=bearer(tokens))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = await client.delete(f"{KEYS}/{key['id']}", headers=bearer(tokens))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]

    events = await event_log.wait_for(
        topics.IDENTITY_API_KEY, lambda e: e.data.get("key_id") == key["id"], count=3
    )
    assert [e.type.split(".")[-2] for e in events] == ["created", "renamed", "revoked"]
    assert (await client.get(KEYS, headers=bearer(tokens))).json()["items"] == []
    every = await client.get(KEYS, headers=bearer(tokens), params={"include_revoked": True})
    assert [k["name"] for k in every.json()["items"]] == ["b"]


async def test_others_keys_are_unknown_and_admins_may_revoke_any(client, database_url):
    _, owner = await verified(client, database_url)
    _, stranger = await verified(client, database_url)
    _, admin = await verified(client, database_url, admin=True)
    key = (await client.post(KEYS, headers=bearer(owner), json={"name": "mine"})).json()

    assert (await client.delete(f"{KEYS}/{key['id']}", headers=bearer(stranger))).status_code == 404
    denied = await client.get("/api/v1/users/api-keys", headers=bearer(stranger))
    assert denied.status_code == 403

    listed = await client.get(
        "/api/v1/users/api-keys", headers=bearer(admin), params={"user_id": key["user_id"]}
    )
    assert [k["id"] for k in listed.json()["items"]] == [key["id"]]
    gone = await client.delete(f"/api/v1/users/api-keys/{key['id']}", headers=bearer(admin))
    assert gone.status_code == 200 and gone.json()["revoked_at"]


async def test_keys_need_a_verified_address_and_coherent_limits(client, database_url):
    _, unverified = await client.signed_up()
    refused = await client.post(KEYS, headers=bearer(unverified), json={"name": "x"})
    assert refused.status_code == 403
    _, tokens = await verified(client, database_url)
    half = await client.post(
        KEYS, headers=bearer(tokens), json={"name": "x", "budget_period": "day"}
    )
    assert half.status_code == 422
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = await client.post(
        KEYS, headers=bearer(tokens), json={"name": "x", "expires_at": past}
    )
    assert expired.status_code == 422
    scope = await client.post(KEYS, headers=bearer(tokens), json={"name": "x", "scopes": ["root"]})
    assert scope.status_code == 422


async def test_deleting_the_account_revokes_its_keys(client, database_url, event_log):
    user, tokens = await verified(client, database_url)
    key = (await client.post(KEYS, headers=bearer(tokens), json={"name": "k"})).json()
    deleted = await client.request(
        "DELETE",
        "/api/v1/auth/me",
        headers=bearer(tokens),
        json={"password": "correct horse battery"},
    )
    assert deleted.status_code == 204, deleted.text
    [event] = await event_log.wait_for(
        topics.IDENTITY_API_KEY,
        lambda e: e.data.get("key_id") == key["id"] and e.type.endswith("revoked.v1"),
    )
    assert event.data["reason"] == "user-deleted" and event.data["user_id"] == user["id"]
