"""Role administration trusts identity's own database, not the caller's token (issue 16)."""

from __future__ import annotations

from typing import Any

import jwt
import psycopg

from .conftest import Client, bearer


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


async def sql(database_url: str, statement: str, *args: Any) -> None:
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute(statement, args)
        await conn.commit()


async def verified_admin(client: Client, database_url: str) -> tuple[dict, dict]:
    user = await client.register()
    await sql(database_url, "UPDATE users SET email_verified_at = now() WHERE id = %s", user["id"])
    await sql(
        database_url, "INSERT INTO user_roles (user_id, role) VALUES (%s, 'admin')", user["id"]
    )
    return user, await client.login(user["email"])


async def test_demoted_admin_cannot_regrant_with_the_old_token(client, database_url):
    """Issue 16 item 2: an admin demoted in the database cannot re-grant themselves with the
    permissions still inside their token."""
    admin, tokens = await verified_admin(client, database_url)
    await sql(
        database_url, "DELETE FROM user_roles WHERE user_id = %s AND role = 'admin'", admin["id"]
    )

    regrant = await client.post(f"/api/v1/users/{admin['id']}/roles/admin", headers=bearer(tokens))
    assert regrant.status_code == 403, regrant.text
    listing = await client.get("/api/v1/users", headers=bearer(tokens))
    assert listing.status_code == 403


async def test_revoking_a_role_signs_that_user_out(client, database_url):
    """Issue 16 item 2: revoking a role revokes the user's sessions, so neither their access
    token nor their refresh token keeps the old privileges."""
    _, tokens = await verified_admin(client, database_url)
    other, other_tokens = await verified_admin(client, database_url)

    revoked = await client.delete(
        f"/api/v1/users/{other['id']}/roles/admin", headers=bearer(tokens)
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["roles"] == ["user"]

    regrant = await client.post(
        f"/api/v1/users/{other['id']}/roles/admin", headers=bearer(other_tokens)
    )
    assert regrant.status_code == 401, regrant.text
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other_tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    # The admin who revoked keeps working.
    assert (await client.get("/api/v1/users", headers=bearer(tokens))).status_code == 200


async def test_admins_may_read_any_wallet(client, database_url):
    """Issue 16 item 16: `wallet:read-any` (wallet's admin GET /wallet/{user_id}) was granted
    to no role, so no token ever carried it."""
    _, tokens = await verified_admin(client, database_url)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert "wallet:read-any" in claims["permissions"]
    plain = await client.login((await client.register())["email"])
    claims = jwt.decode(plain["access_token"], options={"verify_signature": False})
    assert "wallet:read-any" not in claims["permissions"]
