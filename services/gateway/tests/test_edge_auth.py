from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vareon_chassis.embedded import free_port
from vareon_gateway.app import create_app

from .conftest import gateway_settings

PROTECTED = "/api/v1/wallet"
UNAUTHORIZED = "https://vareon.dev/problems/unauthorized"


async def _rejected(gateway: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await gateway.get(PROTECTED, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    problem = response.json()
    assert problem["type"] == UNAUTHORIZED
    return str(problem["detail"])


async def test_protected_route_without_a_token_is_401(gateway: httpx.AsyncClient) -> None:
    assert await _rejected(gateway, {}) == "bearer token required"
    assert await _rejected(gateway, {"Authorization": "Basic YTpi"}) == "bearer token required"


async def test_forged_expired_and_garbage_tokens_are_401(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    forged = token(key=Ed25519PrivateKey.generate())
    assert await _rejected(gateway, {"Authorization": f"Bearer {forged}"}) == "invalid token"
    expired = token(expires_in=-60)
    assert await _rejected(gateway, {"Authorization": f"Bearer {expired}"}) == "token expired"
    unknown_key = token(kid="not-ours")
    assert await _rejected(gateway, {"Authorization": f"Bearer {unknown_key}"}) == (
        "unknown signing key"
    )
    assert await _rejected(gateway, {"Authorization": "Bearer not.a.jwt"}) == "malformed token"
    wrong_audience = token(aud="someone-else")
    assert await _rejected(gateway, {"Authorization": f"Bearer {wrong_audience}"}) == (
        "invalid token"
    )


async def test_valid_token_passes(gateway: httpx.AsyncClient, token: Callable[..., str]) -> None:
    response = await gateway.get(PROTECTED, headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 200
    assert response.json()["path"] == PROTECTED


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/google"),
        ("POST", "/api/v1/auth/verify-email"),
        ("POST", "/api/v1/auth/resend-verification"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/api/v1/arcana/chat/demo"),
    ],
)
async def test_public_routes_pass_without_a_token(
    gateway: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await gateway.request(method, path, json={"email": "ada@example.com"})
    assert response.status_code == 200, response.text


async def test_gateway_own_routes_are_public(gateway: httpx.AsyncClient) -> None:
    for path in (
        "/health",
        "/health/live",
        "/openapi.json",
        "/docs",
        "/asyncapi",
        "/asyncapi.html",
    ):
        assert (await gateway.get(path)).status_code == 200, path
    asyncapi = (await gateway.get("/asyncapi")).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert "vareon.identity.user" in asyncapi["channels"]
    assert "<html" in (await gateway.get("/asyncapi.html")).text.lower()


async def test_identity_unreachable_is_503_not_401(
    running: Callable[..., Any], upstream: tuple[Any, str], token: Callable[..., str]
) -> None:
    """Item 8 (JWKS): before, the gateway answered 401 "signing keys unavailable" to a valid
    token while identity was down, telling the client to sign in again."""
    settings = gateway_settings(upstream[1], jwks_url=f"http://127.0.0.1:{free_port()}/jwks")
    url = await running(create_app(settings))
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):
            response = await client.get(PROTECTED, headers={"Authorization": f"Bearer {token()}"})
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["retry-after"]
            assert response.json()["type"] == "https://vareon.dev/problems/service-unavailable"


async def test_device_heartbeats_reach_myntrix_with_their_own_credential(
    gateway: httpx.AsyncClient,
) -> None:
    """Item 9 (ways in through :8000): before, the edge answered a device's heartbeat
    (``Authorization: Device <credential>``) with 401 "bearer token required"."""
    path = "/api/v1/myntrix/hardware/3f6c/heartbeat"
    response = await gateway.post(
        path, json={"status": "online"}, headers={"Authorization": "Device dev_secret"}
    )
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["path"] == path
    assert ["authorization", "Device dev_secret"] in echo["headers"]
    missing = await gateway.post(path, json={})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Device"
    # elsewhere in myntrix a device credential is no bearer token
    other = await gateway.get(
        "/api/v1/myntrix/hardware", headers={"Authorization": "Device dev_secret"}
    )
    assert other.status_code == 401


async def test_the_mailed_verification_link_confirms_through_the_gateway(
    gateway: httpx.AsyncClient,
) -> None:
    """Item 9 (ways in through :8000): before, GET /verify-email?token=... answered 404."""
    page = await gateway.get("/verify-email", params={"token": "tok-<1>"})
    assert page.status_code == 200
    assert 'name="token" value="tok-&lt;1&gt;"' in page.text  # escaped, never raw
    confirmed = await gateway.post("/verify-email", data={"token": "tok-<1>"})
    assert confirmed.status_code == 200, confirmed.text
    assert "Address confirmed" in confirmed.text
    assert (await gateway.get("/verify-email")).status_code == 400
