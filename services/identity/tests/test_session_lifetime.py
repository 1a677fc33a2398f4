"""Sessions end everywhere, and not only by sliding expiry (issue 16 item 14)."""

from __future__ import annotations

import jwt
import psycopg
from vareon_contracts import topics

from .conftest import bearer

REVOKED = "vareon.identity.sessions.revoked.v1"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def sid(tokens: dict) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]


async def test_a_refresh_session_has_an_absolute_lifetime(client, database_url, settings):
    """Issue 16 item 14: each rotation set a fresh expiry, so a login refreshed regularly
    lived forever."""
    user, tokens = await client.signed_up()
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute(
            "UPDATE refresh_sessions SET created_at = created_at - make_interval(secs => %s) "
            "WHERE user_id = %s",
            (settings.refresh_session_max_lifetime_s + 60, user["id"]),
        )
        await conn.commit()
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401, refreshed.text


async def test_logout_all_announces_the_revoked_sessions(client, event_log):
    """Issue 16 item 14: other services learnt of a logout only at the token's expiry; now
    identity publishes the revoked session ids for their verifiers."""
    user, first = await client.signed_up()
    second = await client.login(user["email"])
    response = await client.post("/api/v1/auth/logout-all", headers=bearer(first))
    assert response.status_code == 204
    [event] = await event_log.wait_for(
        topics.IDENTITY_SESSION, lambda e: e.type == REVOKED and e.data["user_id"] == user["id"]
    )
    assert sorted(event.data["session_ids"]) == sorted([sid(first), sid(second)])
    assert event.data["reason"] == "logout-all"
    assert event.key == user["id"]


async def test_a_password_change_announces_the_other_sessions_only(client, event_log):
    user, kept = await client.signed_up()
    other = await client.login(user["email"])
    changed = await client.post(
        "/api/v1/auth/password",
        headers=bearer(kept),
        json={"current_password": "correct horse battery", "new_password": "a new passphrase"},
    )
    assert changed.status_code == 204
    [event] = await event_log.wait_for(
        topics.IDENTITY_SESSION, lambda e: e.type == REVOKED and e.data["user_id"] == user["id"]
    )
    assert event.data["session_ids"] == [sid(other)]
    assert event.data["reason"] == "password-changed"
