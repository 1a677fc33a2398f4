from __future__ import annotations

import pytest

from .conftest import PASSWORD


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"login_free_failures": 3, "login_limit_per_ip": "5/minute"})


async def test_failed_logins_are_delayed_per_account_then_limited_per_ip(client):
    user = await client.register()
    wrong = {"email": user["email"], "password": "wrong password!"}
    for _ in range(3):
        assert (await client.post("/api/v1/auth/login", json=wrong)).status_code == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60

    # Two more failures on other accounts exhaust this client's IP budget of five.
    for n in range(2):
        other = {"email": f"other{n}@example.com", "password": "wrong password!"}
        assert (await client.post("/api/v1/auth/login", json=other)).status_code == 401
    fresh = await client.register()
    assert (
        await client.post(
            "/api/v1/auth/login", json={"email": fresh["email"], "password": PASSWORD}
        )
    ).status_code == 429
