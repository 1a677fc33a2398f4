"""Sign-up cost and mail abuse (issue 16 item 7)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
from asgi_lifespan import LifespanManager
from vareon_identity.app import create_app

from .conftest import PASSWORD, Client, bearer


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"register_limit_per_ip": "3/hour", "resend_verification_limit_per_ip": "2/hour"}
    )


def body(display_name: str = "Ada") -> dict:
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    return {"email": email, "password": PASSWORD, "display_name": display_name}


async def test_registration_is_limited_per_client_ip(client):
    """Issue 16 item 7: every registration costs an Argon2 hash and a mail, unlimited."""
    for _ in range(3):
        await client.register()
    limited = await client.post("/api/v1/auth/register", json=body())
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["Retry-After"]) >= 1


async def test_resend_verification_is_limited_per_client_ip(client, settings):
    """Issue 16 item 7: the resend limit was per user only; many accounts on one client
    each got their own budget of mails."""
    sessions = []
    for _ in range(3):
        user = await client.register()
        sessions.append(await client.login(user["email"]))
    statuses = [
        (await client.post("/api/v1/auth/resend-verification", headers=bearer(t))).status_code
        for t in sessions
    ]
    assert statuses == [202, 202, 429]


async def test_user_chosen_text_stays_out_of_the_mail_subject_and_opening(client, mailbox):
    """Issue 16 item 7: the display name opened the verification mail to any address."""
    lure = "Your invoice is overdue: pay at https://evil.example now"
    response = await client.post("/api/v1/auth/register", json=body(lure))
    assert response.status_code == 201
    [mail] = await mailbox.wait_for(response.json()["email"])
    assert "evil" not in mail["Subject"]
    assert "evil" not in mail.get_content()


async def test_a_signup_storm_is_shed_with_503_never_500(settings):
    """Issue 16 item 7: with the password hashed inside the transaction each registration
    held a pooled connection through the Argon2 hash, so a storm timed out of the pool: 500."""
    stormy = settings.model_copy(
        update={
            "register_limit_per_ip": "1000/minute",
            "argon2_time_cost": 2,
            "argon2_memory_cost_kib": 32768,
            "db_pool_size": 1,
            "db_max_overflow": 0,
            "db_pool_timeout_s": 0.3,
            "password_hash_concurrency": 1,
            "password_hash_queue": 4,
            "smtp_host": None,
        }
    )
    app = create_app(stormy)
    async with LifespanManager(app, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with Client(transport=transport, base_url="http://identity") as http:
            responses = await asyncio.gather(
                *(http.post("/api/v1/auth/register", json=body()) for _ in range(40))
            )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[201] >= 1
    for response in responses:
        if response.status_code == 503:
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["Retry-After"]) >= 1


async def test_no_free_connection_is_a_503_not_a_500(settings):
    """Issue 16 item 7: a pool timeout surfaced as a 500."""
    busy = settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_s": 0.2}
    )
    app = create_app(busy)
    async with LifespanManager(app, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with Client(transport=transport, base_url="http://identity") as http:
            async with app.state.engine.connect():  # holds the only connection
                response = await http.post(
                    "/api/v1/auth/login", json={"email": "a@example.com", "password": PASSWORD}
                )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
