"""CORS at the edge (gateway issue item 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from vareon_gateway.app import create_app

from .conftest import gateway_settings

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def _client(
    running: Callable[..., Any], upstream: tuple[Any, str], **settings: Any
) -> httpx.AsyncClient:
    url = await running(create_app(gateway_settings(upstream[1], **settings)))
    return httpx.AsyncClient(base_url=url)


async def test_development_allows_local_pages_without_credentials(
    running: Callable[..., Any], upstream: tuple[Any, str], token: Callable[..., str]
) -> None:
    """Item 5 (CORS): before, preflights went on to the services and no
    Access-Control-Allow-Origin ever came back: no browser app could call the API."""
    async with await _client(running, upstream) as client:
        origin = {"Origin": "http://localhost:5173"}
        preflight = await client.options("/api/v1/wallet", headers={**origin, **PREFLIGHT})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
        assert "access-control-allow-credentials" not in preflight.headers
        actual = await client.get(
            "/api/v1/wallet", headers={**origin, "Authorization": f"Bearer {token()}"}
        )
        assert actual.status_code == 200
        assert actual.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "x-request-id" in actual.headers["access-control-expose-headers"]
        refused = await client.get("/api/v1/wallet", headers={"Origin": "http://localhost:5173"})
        assert refused.status_code == 401  # CORS headers on errors too, so the page can read it
        assert refused.headers["access-control-allow-origin"] == "http://localhost:5173"
        other = await client.options(
            "/api/v1/wallet", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        assert "access-control-allow-origin" not in other.headers


async def test_production_allows_only_listed_origins_with_credentials(
    running: Callable[..., Any], upstream: tuple[Any, str]
) -> None:
    async with await _client(
        running, upstream, environment="production", cors_origins=("https://app.vareon.dev",)
    ) as client:
        listed = await client.options(
            "/api/v1/auth/login", headers={"Origin": "https://app.vareon.dev", **PREFLIGHT}
        )
        assert listed.headers["access-control-allow-origin"] == "https://app.vareon.dev"
        assert listed.headers["access-control-allow-credentials"] == "true"
        local = await client.post(
            "/api/v1/auth/login", json={}, headers={"Origin": "http://localhost:3000"}
        )
        assert local.status_code == 200
        assert "access-control-allow-origin" not in local.headers
        assert (await client.get("/health", headers={"Origin": "https://app.vareon.dev"})).headers[
            "access-control-allow-origin"
        ] == "https://app.vareon.dev"
