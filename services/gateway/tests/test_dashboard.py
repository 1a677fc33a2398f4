"""The dashboard: sections asked concurrently, each with its own status and deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from vareon_chassis.service import create_service
from vareon_chassis.settings import ServiceSettings
from vareon_gateway.app import create_app

from .conftest import gateway_settings, jwks

DASHBOARD = "/api/v1/dashboard"


def stand_in(seen: list[dict[str, Any]], release: asyncio.Event) -> Any:
    """Each service's summary as the real ones shape it: arcana answers, the wallet is slow,
    myntrix refuses, cognisys breaks (neosyntis is on a port nobody listens on)."""
    router = APIRouter()

    @router.get("/.well-known/jwks.json")
    async def keys() -> dict[str, Any]:
        return jwks()

    @router.get("/api/v1/{service}/summary")
    async def summary(service: str, request: Request) -> Any:
        seen.append(
            {
                "service": service,
                "scope": request.query_params.get("scope"),
                "authorization": request.headers.get("authorization"),
            }
        )
        if service == "wallet":
            await release.wait()  # set only after the dashboard answered
        if service == "myntrix":
            return JSONResponse({"title": "Forbidden"}, status_code=403)
        if service == "cognisys":
            return JSONResponse({"title": "boom"}, status_code=500)
        return {
            "scope": request.query_params.get("scope", "user"),
            "sessions": 2,
            "recent": [
                {"kind": "chat", "id": "b", "title": "older", "at": "2026-12-01T10:00:00Z"},
                {"kind": "chat", "id": "a", "title": "newer", "at": "2026-12-02T10:00:00Z"},
                {"kind": "chat", "title": "no id: skipped"},
            ],
        }

    settings = ServiceSettings(service_name="stand-in", log_json=False, log_level="WARNING")
    return create_service(settings, title="stand-in", routers=[router], with_database=False)


async def test_each_section_has_its_own_status_and_a_slow_one_does_not_hold_the_rest(
    running: Callable[..., Any], token: Callable[..., str]
) -> None:
    seen: list[dict[str, Any]] = []
    release = asyncio.Event()
    upstream = await running(stand_in(seen, release))
    # Generous for the sections that answer (a loaded machine); the wallet never does in time.
    url = await running(create_app(gateway_settings(upstream, dashboard_timeout_s=3)))
    bearer = f"Bearer {token()}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await client.get(DASHBOARD)).status_code == 401
        response = await client.get(DASHBOARD, headers={"Authorization": bearer})
    release.set()
    assert response.status_code == 200, response.text
    board = response.json()
    assert board["view"] == "user" and board["status"] == "partial"
    sections = board["sections"]
    assert set(sections) == {"arcana", "wallet", "myntrix", "neosyntis"}
    assert sections["arcana"]["status"] == "ok"
    assert sections["arcana"]["data"]["sessions"] == 2
    assert sections["wallet"]["status"] == "timeout" and sections["wallet"]["data"] is None
    assert sections["myntrix"]["status"] == "forbidden"
    assert sections["neosyntis"]["status"] == "unavailable"
    assert [a["id"] for a in board["recent_activity"]] == ["a", "b"]
    assert board["health"] is None
    # Each service was asked with the caller's own token, for the user scope.
    assert {s["authorization"] for s in seen} == {bearer}
    assert {s["scope"] for s in seen} == {None}


async def test_the_admin_view_needs_system_read_and_adds_health(
    running: Callable[..., Any], token: Callable[..., str]
) -> None:
    seen: list[dict[str, Any]] = []
    release = asyncio.Event()
    release.set()
    upstream = await running(stand_in(seen, release))
    url = await running(create_app(gateway_settings(upstream, dashboard_timeout_s=10)))
    admin = {"Authorization": f"Bearer {token(permissions=['system:read'])}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        plain = {"Authorization": f"Bearer {token()}"}
        refused = await client.get(DASHBOARD, params={"view": "admin"}, headers=plain)
        assert refused.status_code == 403
        response = await client.get(DASHBOARD, params={"view": "admin"}, headers=admin)
    board = response.json()
    assert board["view"] == "admin"
    assert board["sections"]["cognisys"]["status"] == "error"
    assert board["sections"]["arcana"]["data"]["scope"] == "platform"
    assert board["health"]["services"]["neosyntis"]["ready"] is False
    assert "wallet" in board["health"]["services"]
    assert {s["scope"] for s in seen} == {"platform"}
