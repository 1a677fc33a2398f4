"""The OpenAI-compatible paths at the edge (issue 19): `/v1/...` goes to arcana, an API key
(`vk-...`, not a JWT) passes to arcana to be checked there, and every error the edge answers
on those paths has OpenAI's shape with the problem inside."""

from collections.abc import Callable

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY = "vk-" + "A" * 43


def _openai_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) >= {"message", "type", "code", "param", "problem"}
    assert error["problem"]["status"] == response.status_code
    assert error["problem"]["request_id"] == response.headers["x-request-id"]
    return error


async def test_an_api_key_passes_the_edge_to_arcana_on_v1(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, json={}
    )
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["path"] == "/v1/chat/completions"
    assert ["authorization", f"Bearer {KEY}"] in echoed["headers"]


async def test_a_jwt_still_works_on_v1(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.get("/v1/models", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 200
    assert response.json()["path"] == "/v1/models"


async def test_v1_refusals_are_openai_errors(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    error = _openai_error(await gateway.get("/v1/models"), 401, "invalid_api_key")
    assert error["type"] == "invalid_request_error"
    assert error["problem"]["type"] == "https://vareon.dev/problems/unauthorized"
    forged = token(key=Ed25519PrivateKey.generate())
    response = await gateway.get("/v1/models", headers={"Authorization": f"Bearer {forged}"})
    assert _openai_error(response, 401, "invalid_api_key")["message"] == "invalid token"


async def test_an_api_key_is_no_token_elsewhere(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/api/v1/wallet", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
