"""Per-IP limits behind the gateway (issue 16 item 4)."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Client

GATEWAY = "10.9.0.2"


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"trusted_proxies": f"{GATEWAY}, 10.8.0.0/16", "login_limit_per_ip": "5/minute"}
    )


def peer(client: Client, ip: str) -> Client:
    transport = httpx.ASGITransport(app=client.app, client=(ip, 40000))
    return Client(transport=transport, base_url="http://identity")


async def wrong_logins(http: Client, n: int, forwarded_for: str | None = None) -> list[int]:
    statuses = []
    for i in range(n):
        headers = {"X-Forwarded-For": forwarded_for.format(i=i)} if forwarded_for else {}
        response = await http.post(
            "/api/v1/auth/login",
            json={"email": f"nobody{i}@example.com", "password": "wrong password!"},
            headers=headers,
        )
        statuses.append(response.status_code)
    return statuses


async def test_clients_behind_the_gateway_have_budgets_of_their_own(client):
    """Issue 16 item 4: behind the gateway every request came from its address, so one
    client's failures used up the per-IP budget of everyone."""
    user = await client.register()
    async with peer(client, GATEWAY) as gateway:
        assert await wrong_logins(gateway, 5, "198.51.100.1") == [401] * 5
        assert (await wrong_logins(gateway, 1, "198.51.100.1")) == [429]
        signed_in = await gateway.post(
            "/api/v1/auth/login",
            json={"email": user["email"], "password": "correct horse battery"},
            headers={"X-Forwarded-For": "203.0.113.50"},
        )
        assert signed_in.status_code == 200, signed_in.text
        sessions = await gateway.get(
            "/api/v1/auth/sessions",
            headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"},
        )
        assert [s["ip"] for s in sessions.json()] == ["203.0.113.50"]


async def test_forwarded_for_from_anyone_else_is_not_believed(client):
    """Issue 16 item 4: only the gateway's X-Forwarded-For counts; a client's own entries
    (left of what the gateway appended) never buy a fresh budget."""
    async with peer(client, "203.0.113.9") as direct, peer(client, GATEWAY) as gateway:
        assert await wrong_logins(direct, 6, "192.0.2.{i}") == [401] * 5 + [429]
        spoofed = await wrong_logins(gateway, 6, "192.0.2.{i}, 198.51.100.77")
        assert spoofed == [401] * 5 + [429]
