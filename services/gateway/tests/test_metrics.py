"""The edge counts what it refuses itself: upstream failures by service and problem, and
rate-limit refusals by route class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import REGISTRY
from vareon_gateway.app import create_app

from .conftest import gateway_settings

LOGIN = "/api/v1/auth/login"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_upstream_errors_by_service_and_problem(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    labels = {"service": "neosyntis", "problem": "upstream-unavailable"}
    before = sample("vareon_gateway_upstream_errors_total", **labels)
    bearer = {"Authorization": f"Bearer {token()}"}
    response = await gateway.get("/api/v1/neosyntis/datasets", headers=bearer)
    assert response.status_code == 503
    assert sample("vareon_gateway_upstream_errors_total", **labels) == before + 1


async def test_rate_limit_refusals_by_route_class(
    running: Callable[..., Any], upstream: tuple[Any, str]
) -> None:
    before = sample("vareon_gateway_rate_limited_total", policy="auth")
    url = str(await running(create_app(gateway_settings(upstream[1], rate_limit_auth="1/minute"))))
    async with httpx.AsyncClient(base_url=url) as client:
        statuses = [
            (await client.post("/api/v1/auth/login", json={})).status_code for _ in range(3)
        ]
    assert statuses == [200, 429, 429]
    assert sample("vareon_gateway_rate_limited_total", policy="auth") == before + 2


async def test_latency_is_labelled_by_the_services_route_template_never_the_path(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    """Before: every proxied request of a service was one label, ``proxy:<service>``."""
    labels = {"service": "gateway", "method": "GET", "route": "/{path:path}"}
    before = sample("vareon_http_request_seconds_count", **labels)
    bearer = {"Authorization": f"Bearer {token()}"}
    response = await gateway.get("/api/v1/wallet/transactions/raw-id-9f1c", headers=bearer)
    assert response.status_code == 200
    assert "x-vareon-route" not in response.headers  # the edge keeps it to itself
    assert sample("vareon_http_request_seconds_count", **labels) == before + 1
    exposed = "\n".join(f"{s.name}{s.labels}" for m in REGISTRY.collect() for s in m.samples)
    assert "raw-id-9f1c" not in exposed
