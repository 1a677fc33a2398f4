"""GET /api/v1/dashboard (the route: ``api/dashboard.py``): every service's summary, asked at
once, each section on its own.

A section is one service's ``GET /api/v1/<service>/summary`` called with the caller's own
token (the service checks what the caller may see). The sections are fetched concurrently,
each under the same deadline; one slow or failing service marks its own section (``timeout``,
``unavailable``, ``forbidden``, ``error``) and never the whole answer. The admin view asks for
``scope=platform`` and adds each service's health (the cached system status).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from fastapi import Request

from vareon_gateway.schemas import Activity, Dashboard, Section, SectionStatus
from vareon_gateway.settings import GatewaySettings
from vareon_gateway.status import CachedStatus

USER_SECTIONS = ("arcana", "wallet", "myntrix", "neosyntis")
ADMIN_SECTIONS = (*USER_SECTIONS, "cognisys")
RECENT = 10


async def fetch(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout_s: float
) -> Section:
    started = time.perf_counter()

    def done(status: SectionStatus, **fields: Any) -> Section:
        return Section(
            status=status, latency_ms=round((time.perf_counter() - started) * 1000, 1), **fields
        )

    try:
        async with asyncio.timeout(timeout_s):
            response = await client.get(url, headers=headers, timeout=timeout_s)
            body = response.json() if response.status_code == 200 else None
    except (TimeoutError, httpx.TimeoutException):
        return done("timeout", detail=f"no answer within {timeout_s:g} s")
    except httpx.HTTPError:
        return done("unavailable", detail="the service could not be reached")
    except ValueError:
        return done("error", detail="the service answered something that is not JSON")
    if response.status_code in (401, 403):
        return done("forbidden", detail="the service did not let the caller see this section")
    if response.status_code != 200 or not isinstance(body, dict):
        return done("error", detail=f"the service answered {response.status_code}")
    return done("ok", data=body)


def recent(sections: dict[str, Section]) -> list[Activity]:
    items: list[Activity] = []
    for name, section in sections.items():
        for item in (section.data or {}).get("recent") or []:
            try:
                items.append(Activity(service=name, **item))
            except (TypeError, ValueError):
                continue  # a section's shape is the service's; a stray item is skipped
    items.sort(key=lambda a: a.at, reverse=True)
    return items[:RECENT]


async def build(request: Request, view: Literal["user", "admin"]) -> Dashboard:
    """Ask every section's service with the caller's own token, concurrently."""
    settings: GatewaySettings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.upstream
    headers = {"Authorization": request.headers["authorization"]}
    names = ADMIN_SECTIONS if view == "admin" else USER_SECTIONS
    query = "?scope=platform" if view == "admin" else ""
    timeout_s = settings.dashboard_timeout_s
    fetches = [
        fetch(client, f"{settings.upstream_url(n)}/api/v1/{n}/summary{query}", headers, timeout_s)
        for n in names
    ]
    health = None
    if view == "admin":
        cache: CachedStatus = request.app.state.status_cache
        status_task = asyncio.ensure_future(
            cache.get(client, settings.upstreams(), min(timeout_s, settings.status_timeout_s))
        )
        results = await asyncio.gather(*fetches)
        health = await status_task
    else:
        results = await asyncio.gather(*fetches)
    sections = dict(zip(names, results, strict=True))
    return Dashboard(
        view=view,
        status="ok" if all(s.status == "ok" for s in sections.values()) else "partial",
        generated_at=datetime.now(UTC),
        sections=sections,
        recent_activity=recent(sections) if view == "user" else [],
        health=health,
    )
