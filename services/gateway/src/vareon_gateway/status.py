"""Readiness, version and uptime of every service, asked concurrently with a short timeout."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def service_status(
    client: httpx.AsyncClient, base_url: str, timeout_s: float
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        response = await client.get(f"{base_url}/health/ready", timeout=timeout_s)
        body = response.json()
    except httpx.TimeoutException:
        return {"ready": False, "status": "timeout"}
    except httpx.HTTPError:
        return {"ready": False, "status": "unreachable"}
    except ValueError:
        return {"ready": False, "status": "invalid-response"}
    if not isinstance(body, dict):
        return {"ready": False, "status": "invalid-response"}
    ready = response.status_code == 200 and body.get("status") == "ready"
    checks = body.get("checks")
    messaging = body.get("messaging")
    return {
        "ready": ready,
        "status": "ready" if ready else "not-ready",
        "version": body.get("version"),
        "uptime_s": body.get("uptime_s"),
        "checks": checks if isinstance(checks, dict) else {},
        # consumer lag, pending dead letters and the outbox backlog, as the service measured them
        "messaging": messaging if isinstance(messaging, dict) else None,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def system_status(
    client: httpx.AsyncClient, upstreams: dict[str, str], timeout_s: float
) -> dict[str, Any]:
    names = list(upstreams)
    results = await asyncio.gather(
        *(service_status(client, upstreams[name], timeout_s) for name in names)
    )
    services = dict(zip(names, results, strict=True))
    ready = sum(1 for s in services.values() if s["ready"])
    return {
        "status": "ok" if ready == len(services) else "degraded",
        "ready": ready,
        "total": len(services),
        "services": services,
    }


class CachedStatus:
    """Keeps the last system status for ``ttl_s`` so many pollers cost one fan-out."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._value: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def get(
        self, client: httpx.AsyncClient, upstreams: dict[str, str], timeout_s: float
    ) -> dict[str, Any]:
        async with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl_s:
                self._value = await system_status(client, upstreams, timeout_s)
                self._at = time.monotonic()
            return self._value
