"""Body limits in every service (gateway issue item 6), through a real chassis service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import APIRouter, Request
from vareon_chassis.service import create_service
from vareon_chassis.settings import ServiceSettings

router = APIRouter()


@router.post("/api/v1/things")
async def things(body: dict[str, Any]) -> dict[str, int]:
    return {"keys": len(body)}


@router.post("/api/v1/uploads")
async def uploads(request: Request) -> dict[str, int]:
    return {"bytes": sum([len(c) async for c in request.stream()])}


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 65_536):
        yield b"a" * 65_536


async def test_a_service_refuses_bodies_over_its_limit_while_streaming(
    running: Callable[..., Any],
) -> None:
    """Item 6 (body limits): before, a service read a 2 MiB JSON body whole (422 after
    buffering it) and a chunked 2 MiB upload to any streaming route went through."""
    settings = ServiceSettings(service_name="limits", log_json=False, log_level="WARNING")
    app = create_service(settings, title="limits", routers=[router], with_database=False)
    url = await running(app)
    async with httpx.AsyncClient(base_url=url) as client:
        big = b'{"a": "' + b"x" * 2_097_152 + b'"}'
        declared = await client.post(
            "/api/v1/things", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        assert declared.json()["type"] == "https://vareon.dev/problems/payload-too-large"
        streamed = await client.post("/api/v1/uploads", content=_chunks(2_097_152))
        assert streamed.status_code == 413
        assert streamed.json()["type"] == "https://vareon.dev/problems/payload-too-large"
        small = await client.post("/api/v1/uploads", content=_chunks(655_360))
        assert small.json() == {"bytes": 655_360}


async def test_exempt_routes_keep_their_own_limit(running: Callable[..., Any]) -> None:
    settings = ServiceSettings(
        service_name="limits",
        log_json=False,
        log_level="WARNING",
        body_limit_exempt=("/api/v1/uploads",),
    )
    app = create_service(settings, title="limits", routers=[router], with_database=False)
    url = await running(app)
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/api/v1/uploads", content=_chunks(2_097_152))
        assert response.json() == {"bytes": 2_097_152}
