"""The gateway's own endpoints and the catch-all that proxies everything else."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import httpx
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response
from vareon_chassis.auth import require_permission
from vareon_chassis.errors import NotFound
from vareon_contracts.asyncapi import build_asyncapi
from vareon_contracts.asyncapi_html import render_asyncapi_html

from vareon_gateway.settings import GatewaySettings
from vareon_gateway.status import CachedStatus

router = APIRouter()
SYSTEM_READ = "system:read"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def _client(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.upstream
    return client


async def _status(request: Request) -> dict[str, Any]:
    settings = _settings(request)
    cache: CachedStatus = request.app.state.status_cache
    return await cache.get(_client(request), settings.upstreams(), settings.status_timeout_s)


@router.get("/health", tags=["system"], summary="Gateway liveness (public, minimal)")
async def health() -> dict[str, str]:
    # Public: says only that the edge is up. Topology, versions and check results are in
    # /api/v1/system/status, for holders of system:read.
    return {"status": "ok"}


@router.get(
    "/api/v1/system/status",
    tags=["system"],
    summary="Readiness, version, uptime and messaging of every service (needs system:read)",
    dependencies=[require_permission(SYSTEM_READ)],
)
async def system_status(request: Request) -> dict[str, Any]:
    status = await _status(request)
    return {
        "gateway": {
            "version": request.app.version,
            "uptime_s": round(time.time() - request.app.state.started_at, 3),
        },
        **status,
    }


@cache
def _asyncapi() -> dict[str, Any]:
    return build_asyncapi()


@cache
def _asyncapi_html() -> str:
    return render_asyncapi_html(_asyncapi())


@router.get("/asyncapi", tags=["system"], summary="AsyncAPI 3 document of every event")
async def asyncapi() -> dict[str, Any]:
    return _asyncapi()


@router.get(
    "/asyncapi.html",
    tags=["system"],
    summary="The AsyncAPI document, readable",
    response_class=HTMLResponse,
)
async def asyncapi_html() -> HTMLResponse:
    return HTMLResponse(_asyncapi_html())


@router.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
async def not_found(request: Request) -> Response:
    # Proxied routes never get here: the edge (vareon_gateway.edge) forwards them.
    raise NotFound(f"No service serves {request.url.path}.")
