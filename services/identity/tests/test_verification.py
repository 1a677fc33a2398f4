from __future__ import annotations

import asyncio

import httpx
import jwt
import psycopg
from asgi_lifespan import LifespanManager
from vareon_chassis.embedded import free_port
from vareon_contracts import topics
from vareon_identity.app import create_app

from .conftest import PASSWORD, bearer

INVALID = "https://vareon.dev/problems/invalid-verification-token"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def claims(tokens: dict) -> dict:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


async def test_register_mails_a_token_that_verifies_once(client, mailbox, database_url, event_log):
    user = await client.register()
    tokens = await client.login(user["email"])
    assert claims(tokens)["email_verified"] is False
    assert user["email_verified_at"] is None

    [mail] = await mailbox.wait_for(user["email"])
    assert mail["Subject"] == "Confirm your Vareon email address"
    token = await mailbox.token_for(user["email"])
    assert "https://vareon.test/verify-email?token=" in mail.get_content()

    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified_at"] is not None
    assert claims(await client.login(user["email"]))["email_verified"] is True
    [event] = await event_log.wait_for(
        topics.IDENTITY_USER,
        lambda e: e.type == "vareon.identity.user.verified.v1" and e.data["user_id"] == user["id"],
    )
    assert event.data["email"] == user["email"]

    again = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["type"] == INVALID
    assert again.json()["reason"] == "already used"
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        stored = await (await conn.execute("SELECT token_hash FROM email_verifications")).fetchall()
        assert token.encode() not in [bytes(r[0]) for r in stored]  # only the hash is kept
        sent = await (await conn.execute("SELECT count(*) FROM mail_outbox")).fetchone()
        assert sent == (0,)  # delivered mails (they hold a token) are not kept


async def test_expired_and_unknown_tokens_are_problems(client, mailbox, database_url):
    user = await client.register()
    token = await mailbox.token_for(user["email"])
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute("UPDATE email_verifications SET expires_at = now() - interval '1 s'")
        await conn.commit()
    expired = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert (expired.status_code, expired.json()["reason"]) == (400, "expired")
    unknown = await client.post("/api/v1/auth/verify-email", json={"token": "nope"})
    assert (unknown.status_code, unknown.json()["reason"]) == (400, "unknown")
    assert unknown.headers["content-type"] == "application/problem+json"
    empty = await client.post("/api/v1/auth/verify-email", json={"token": ""})
    assert empty.status_code == 422


async def test_resend_is_authenticated_rate_limited_and_refused_once_verified(
    client, mailbox, settings
):
    user, tokens = await client.signed_up()
    assert (await client.post("/api/v1/auth/resend-verification")).status_code == 401
    limit = int(settings.resend_verification_limit.split("/")[0])
    for _ in range(limit):
        response = await client.post("/api/v1/auth/resend-verification", headers=bearer(tokens))
        assert response.status_code == 202
    limited = await client.post("/api/v1/auth/resend-verification", headers=bearer(tokens))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0

    latest = await mailbox.token_for(user["email"], count=1 + limit)
    assert (await client.post("/api/v1/auth/verify-email", json={"token": latest})).is_success
    first = await mailbox.token_for(user["email"], count=1)
    used = await client.post("/api/v1/auth/verify-email", json={"token": first})
    assert used.json()["reason"] == "already used"  # verifying uses up every open token


async def test_resend_after_verification_is_a_conflict(client, mailbox):
    user, tokens = await client.signed_up()
    token = await mailbox.token_for(user["email"])
    assert (await client.post("/api/v1/auth/verify-email", json={"token": token})).is_success
    response = await client.post("/api/v1/auth/resend-verification", headers=bearer(tokens))
    assert response.status_code == 409
    assert response.json()["type"] == "https://vareon.dev/problems/email-already-verified"


async def test_smtp_down_keeps_the_registration_and_the_mail(settings, mailbox, database_url):
    down = settings.model_copy(update={"smtp_port": free_port()})  # nothing listens there
    app = create_app(down)
    email = "offline@example.com"
    async with LifespanManager(app, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity"
        ) as http:
            body = {"email": email, "password": PASSWORD, "display_name": "Off"}
            assert (await http.post("/api/v1/auth/register", json=body)).status_code == 201
            async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
                for _ in range(1200):  # bounded at 60 s: the sender's first try, however busy
                    row = await (
                        await conn.execute("SELECT attempts, last_error FROM mail_outbox")
                    ).fetchone()
                    if row and row[0] >= 1:
                        break
                    await asyncio.sleep(0.05)
    assert row[0] >= 1 and "Connect" in row[1], row
    assert not [m for m in mailbox.messages if m["To"] == email]

    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute("UPDATE mail_outbox SET next_attempt_at = now()")  # skip the backoff
        await conn.commit()
    app = create_app(settings)  # the service comes back with a working SMTP server
    async with LifespanManager(app, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity"
        ) as http:
            token = await mailbox.token_for(email)
            verified = await http.post("/api/v1/auth/verify-email", json={"token": token})
            assert verified.status_code == 200
