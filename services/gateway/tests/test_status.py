from collections.abc import Callable
from typing import Any

import httpx
from vareon_chassis.service import create_service
from vareon_chassis.settings import ServiceSettings
from vareon_gateway.app import create_app
from vareon_gateway.settings import GatewaySettings


def operator(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(permissions=['system:read'])}"}


async def test_details_are_for_system_read_holders_only(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    """Issue 16 item 11: before, /api/v1/system/status (every service's version, checks,
    consumer lag), /health (each service's state) and /metrics answered anyone."""
    assert (await gateway.get("/api/v1/system/status")).status_code == 401
    plain = {"Authorization": f"Bearer {token()}"}
    assert (await gateway.get("/api/v1/system/status", headers=plain)).status_code == 403
    assert (await gateway.get("/metrics")).status_code == 401
    assert (await gateway.get("/metrics", headers=plain)).status_code == 403
    metrics = await gateway.get("/metrics", headers=operator(token))
    assert metrics.status_code == 200 and "vareon_http_requests_total" in metrics.text
    assert (await gateway.get("/health")).json() == {"status": "ok"}


async def test_system_status_reports_each_service(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.get("/api/v1/system/status", headers=operator(token))
    assert response.status_code == 200
    status = response.json()
    assert status["status"] == "degraded"
    assert (status["ready"], status["total"]) == (5, 6)
    wallet = status["services"]["wallet"]
    assert wallet["ready"] is True
    assert wallet["version"] == "9.9.9"
    assert wallet["uptime_s"] >= 0
    neosyntis = status["services"]["neosyntis"]
    assert neosyntis == {"ready": False, "status": "unreachable"}
    assert "127.0.0.1" not in response.text  # no upstream addresses leak out
    assert status["gateway"]["uptime_s"] >= 0


async def test_health_is_live_even_when_a_service_is_down(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_service_up_but_not_ready_is_reported_with_its_version(
    running: Callable[..., Any], upstream: Any, token: Callable[..., str]
) -> None:
    # A real chassis service whose database cannot be reached answers /health/ready with 503.
    broken = create_service(
        ServiceSettings(
            service_name="wallet",
            log_json=False,
            log_level="CRITICAL",
            database_url="postgresql+psycopg://postgres@/x?host=/nonexistent",
        ),
        title="wallet",
        version="1.2.3",
    )
    wallet_url = await running(broken)
    settings = GatewaySettings(
        wallet_url=wallet_url,
        jwks_url=upstream[1] + "/.well-known/jwks.json",
        status_cache_s=0,
        log_json=False,
        status_timeout_s=2.0,
        log_level="WARNING",
    )
    gateway_url = await running(create_app(settings))
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        response = await client.get("/api/v1/system/status", headers=operator(token))
        wallet = response.json()["services"]["wallet"]
    assert wallet["ready"] is False
    assert wallet["status"] == "not-ready"
    assert wallet["version"] == "1.2.3"
    assert wallet["checks"]["database"].startswith("down")
