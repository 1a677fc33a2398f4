from __future__ import annotations

import asyncio
import json

import jwt
import psycopg
from vareon_contracts import topics
from vareon_identity.keys import KeyRing

from .conftest import PASSWORD, bearer


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


async def test_register_login_me(client):
    user = await client.register(email="Ada.Lovelace@Example.com", display_name="  Ada  ")
    assert user["email"] == "ada.lovelace@example.com"
    assert user["display_name"] == "Ada"
    assert user["roles"] == ["user"]
    assert "password" not in json.dumps(user)

    tokens = await client.login("ADA.lovelace@example.com")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900

    jwks = (await client.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "EdDSA"
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    key = jwt.PyJWKSet.from_dict(jwks).keys[0].key
    claims = jwt.decode(
        tokens["access_token"],
        key,
        algorithms=["EdDSA"],
        audience="vareon",
        issuer="vareon-identity",
    )
    assert claims["sub"] == user["id"]
    assert claims["email"] == "ada.lovelace@example.com"
    assert claims["roles"] == ["user"]
    assert claims["permissions"] == []
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]

    me = await client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_token_endpoint_takes_the_oauth2_form(client):
    user = await client.register()
    response = await client.post(
        "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    me = await client.get("/api/v1/auth/me", headers=bearer(response.json()))
    assert me.json()["email"] == user["email"]


async def test_duplicate_email_is_a_conflict(client):
    user = await client.register()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": user["email"].upper(), "password": PASSWORD, "display_name": "Eve"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://vareon.dev/problems/email-taken"


async def test_concurrent_registrations_of_one_email_make_one_user(client, database_url):
    body = {"email": "race@example.com", "password": PASSWORD, "display_name": "Racer"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/register", json=body) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        cursor = await conn.execute("SELECT count(*) FROM users WHERE email = 'race@example.com'")
        assert (await cursor.fetchone()) == (1,)


async def test_wrong_password_and_unknown_email_are_the_same_401(client):
    user = await client.register()
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": "not the password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"] == "https://vareon.dev/problems/invalid-credentials"


async def test_weak_passwords_are_refused(client):
    for password in ("short", "password123", "QWERTYUIOP"):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "weak@example.com", "password": password, "display_name": "W"},
        )
        assert response.status_code == 422, password
        assert response.json()["type"] == "https://vareon.dev/problems/weak-password"


async def test_refresh_rotates_and_reuse_revokes_the_family(client):
    _, first = await client.signed_up()
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    third = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert third.status_code == 200

    reused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401
    # The thief's reuse revoked the whole login: the newest token and its access token too.
    latest = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": third.json()["refresh_token"]}
    )
    assert latest.status_code == 401
    me = await client.get("/api/v1/auth/me", headers=bearer(third.json()))
    assert me.status_code == 401


async def test_unknown_refresh_token_is_401(client):
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_logout_revokes_that_login_only(client):
    user, one = await client.signed_up()
    two = await client.login(user["email"])
    sessions = (await client.get("/api/v1/auth/sessions", headers=bearer(one))).json()
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1

    out = await client.post(
        "/api/v1/auth/logout", headers=bearer(one), json={"refresh_token": one["refresh_token"]}
    )
    assert out.status_code == 204
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": one["refresh_token"]})
    ).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(one))).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(two))).status_code == 200

    assert (await client.post("/api/v1/auth/logout-all", headers=bearer(two))).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(two))).status_code == 401


async def test_change_password_signs_out_the_other_sessions(client):
    user, here = await client.signed_up()
    elsewhere = await client.login(user["email"])
    response = await client.post(
        "/api/v1/auth/password",
        headers=bearer(here),
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
    )
    assert response.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(here))).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer(elsewhere))).status_code == 401
    await client.login(user["email"], "a brand new secret")


async def test_malformed_json_and_missing_fields_are_422_problems(client):
    malformed = await client.post(
        "/api/v1/auth/register", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    missing = await client.post("/api/v1/auth/login", json={"email": "a@example.com"})
    form_missing = await client.post("/api/v1/auth/token", data={"username": "a@example.com"})
    for response in (malformed, missing, form_missing):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "https://vareon.dev/problems/validation-error"
    assert ["body", "password"] in [e["loc"] for e in missing.json()["errors"]]


async def test_sql_looking_and_huge_inputs_are_refused_not_500(client):
    sql = "' OR '1'='1'; DROP TABLE users; --"
    cases = [
        ("/api/v1/auth/register", {"email": sql, "password": PASSWORD, "display_name": "x"}),
        (
            "/api/v1/auth/register",
            {"email": "a" * 10_000 + "@example.com", "password": PASSWORD, "display_name": "x"},
        ),
        (
            "/api/v1/auth/register",
            {"email": "big@example.com", "password": "p" * 100_000, "display_name": "x"},
        ),
        (
            "/api/v1/auth/register",
            {"email": "big@example.com", "password": PASSWORD, "display_name": "x" * 10_000},
        ),
        (
            "/api/v1/auth/register",
            {"email": "nul@example.com", "password": PASSWORD, "display_name": "a\x00b"},
        ),
        ("/api/v1/auth/login", {"email": sql, "password": sql}),
        ("/api/v1/auth/refresh", {"refresh_token": sql * 100}),
    ]
    for path, body in cases:
        response = await client.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
    for username in (sql, "x" * 300):
        response = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": sql}
        )
        assert response.status_code == 401, username
    nul = await client.post(
        "/api/v1/auth/token", data={"username": "a\x00b@example.com", "password": sql}
    )  # the chassis refuses text PostgreSQL cannot store, naming the field (issue 23)
    assert nul.status_code == 422 and nul.json()["errors"][0]["loc"] == ["body", "username"]
    # Stored as text, never interpreted.
    user = await client.register(display_name=sql)
    assert user["display_name"] == sql


async def test_profile_update_and_event(client, event_log):
    user, tokens = await client.signed_up()
    response = await client.patch(
        "/api/v1/auth/me",
        headers=bearer(tokens),
        json={
            "display_name": "Countess",
            "avatar_url": "https://example.com/a.png",
            "preferences": {"theme": "dark"},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Countess"
    assert response.json()["preferences"] == {"theme": "dark"}
    [event] = await event_log.wait_for(
        topics.IDENTITY_USER,
        lambda e: e.type == "vareon.identity.user.updated.v1" and e.data["user_id"] == user["id"],
    )
    assert event.data["display_name"] == "Countess"
    assert event.data["roles"] == ["user"]
    bad = await client.patch(
        "/api/v1/auth/me", headers=bearer(tokens), json={"preferences": {"k": "\x00"}}
    )
    assert bad.status_code == 422


async def test_user_registered_reaches_the_topic(client, event_log):
    user = await client.register(display_name="Grace")
    [event] = await event_log.wait_for(
        topics.IDENTITY_USER, lambda e: e.data.get("user_id") == user["id"]
    )
    assert event.type == "vareon.identity.user.registered.v1"
    assert event.key == user["id"]
    assert event.source == "vareon-identity"
    assert event.data["email"] == user["email"]
    assert event.data["display_name"] == "Grace"


async def test_deleted_user_is_erased_and_its_tokens_refused(client, database_url, event_log):
    user, tokens = await client.signed_up()
    deleted = await client.request(
        "DELETE", "/api/v1/auth/me", headers=bearer(tokens), json={"password": PASSWORD}
    )
    assert deleted.status_code == 204
    me = await client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert me.status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert login.status_code == 401
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        row = await (
            await conn.execute(
                "SELECT email, password_hash, display_name, deleted_at FROM users WHERE id = %s",
                (user["id"],),
            )
        ).fetchone()
    assert row[:3] == (None, None, "")
    assert row[3] is not None
    [event] = await event_log.wait_for(
        topics.IDENTITY_USER,
        lambda e: e.type == "vareon.identity.user.deleted.v1" and e.data["user_id"] == user["id"],
    )
    assert event.key == user["id"]
    # The address is free again.
    await client.register(email=user["email"])


async def test_admin_lists_users_and_manages_roles(client, database_url):
    admin, _ = await client.signed_up()
    other, other_tokens = await client.signed_up()
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (%s, 'admin')", (admin["id"],)
        )
        await conn.commit()
    tokens = await client.login(admin["email"])
    assert (
        "users:write"
        in jwt.decode(tokens["access_token"], options={"verify_signature": False})["permissions"]
    )

    first = await client.get("/api/v1/users?limit=1", headers=bearer(tokens))
    assert first.status_code == 200
    assert len(first.json()["items"]) == 1
    second = await client.get(
        "/api/v1/users",
        headers=bearer(tokens),
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
    )
    assert second.json()["next_cursor"] is None
    ids = [u["id"] for u in first.json()["items"] + second.json()["items"]]
    assert sorted(ids) == sorted([admin["id"], other["id"]])
    bad = await client.get("/api/v1/users?cursor=not-a-cursor", headers=bearer(tokens))
    assert bad.status_code == 422

    unverified = await client.post(
        f"/api/v1/users/{other['id']}/roles/admin", headers=bearer(tokens)
    )
    assert unverified.status_code == 403
    assert unverified.json()["type"] == "https://vareon.dev/problems/email-not-verified"
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute(
            "UPDATE users SET email_verified_at = now() WHERE id = %s", (other["id"],)
        )
        await conn.commit()
    granted = await client.post(f"/api/v1/users/{other['id']}/roles/admin", headers=bearer(tokens))
    assert granted.json()["roles"] == ["admin", "user"]
    revoked = await client.delete(
        f"/api/v1/users/{other['id']}/roles/admin", headers=bearer(tokens)
    )
    assert revoked.json()["roles"] == ["user"]
    missing = await client.post(
        f"/api/v1/users/{other['id']}/roles/'%20OR%201=1", headers=bearer(tokens)
    )
    assert missing.status_code == 404

    # Revoking the role signed `other` out (issue 16 item 2); signed in again, still no access.
    signed_out = await client.get("/api/v1/users", headers=bearer(other_tokens))
    assert signed_out.status_code == 401
    forbidden = await client.get(
        "/api/v1/users", headers=bearer(await client.login(other["email"]))
    )
    assert forbidden.status_code == 403


async def test_jwks_publishes_every_key_so_rotation_keeps_old_tokens(client, keys_dir):
    from vareon_identity.keys import generate_signing_key

    _, old = await client.signed_up()
    generate_signing_key(keys_dir)
    ring: KeyRing = client.app.state.key_ring
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == 2
    user = await client.register()
    new = await client.login(user["email"])
    assert jwt.get_unverified_header(new["access_token"])["kid"] == ring.active.kid
    assert jwt.get_unverified_header(old["access_token"])["kid"] != ring.active.kid
    for tokens in (old, new):
        assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 200
