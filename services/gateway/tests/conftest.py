from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from jwt.algorithms import OKPAlgorithm
from vareon_chassis.embedded import free_port
from vareon_chassis.service import create_service
from vareon_chassis.settings import ServiceSettings
from vareon_gateway.app import create_app
from vareon_gateway.settings import SERVICES, GatewaySettings


class Upstream:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.stream_may_finish = asyncio.Event()
        self.stream_finished = asyncio.Event()
        self.stream_abandoned = asyncio.Event()
        self.app = self._build()

    def _build(self) -> FastAPI:
        router = APIRouter()

        @router.get("/.well-known/jwks.json")
        async def jwks() -> dict[str, Any]:
            return self.jwks

        @router.get("/api/v1/arcana/sessions/{session_id}/events")
        async def events(session_id: str) -> StreamingResponse:
            async def stream() -> AsyncIterator[bytes]:
                try:
                    yield f"data: first {session_id}\n\n".encode()
                    await asyncio.wait_for(self.stream_may_finish.wait(), 10)
                    yield b"data: second\n\n"
                    self.stream_finished.set()
                finally:
                    if not self.stream_finished.is_set():
                        self.stream_abandoned.set()

            return StreamingResponse(stream(), media_type="text/event-stream")

        @router.get("/api/v1/cognisys/slow")
        async def slow() -> dict[str, str]:
            await asyncio.sleep(1.5)
            return {"status": "late"}

        @router.get("/api/v1/wallet/cookie")
        async def cookie() -> Any:
            response = JSONResponse({"ok": True})
            response.set_cookie("a", "1")
            response.set_cookie("b", "2")
            return response

        @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def echo(request: Request) -> dict[str, Any]:
            body = await request.body()
            return {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.url.query,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }

        settings = ServiceSettings(service_name="echo", log_json=False, log_level="WARNING")
        return create_service(
            settings, title="echo", version="9.9.9", routers=[router], with_database=False
        )


KID = "test-key-1"
SIGNING_KEY = Ed25519PrivateKey.generate()


def mint(
    *, key: Ed25519PrivateKey = SIGNING_KEY, kid: str = KID, expires_in: float = 300, **claims: Any
) -> str:
    now = int(time.time())
    payload = {
        "sub": str(uuid.uuid4()),
        "iss": "vareon-identity",
        "aud": "vareon",
        "iat": now,
        "exp": now + int(expires_in),
        "email": "ada@example.com",
        **claims,
    }
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def jwks() -> dict[str, Any]:
    jwk = json.loads(OKPAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    return {"keys": [{**jwk, "kid": KID, "alg": "EdDSA", "use": "sig"}]}


@pytest_asyncio.fixture(loop_scope="session")
async def upstream(running: Callable[..., Any]) -> AsyncIterator[tuple[Upstream, str]]:
    service = Upstream(jwks())
    url = await running(service.app)
    yield service, url


def gateway_settings(upstream_url: str, **overrides: Any) -> GatewaySettings:
    """Every service on the stand-in, but neosyntis on a port nobody listens on."""
    urls: dict[str, Any] = {f"{name}_url": upstream_url for name in SERVICES}
    urls["neosyntis_url"] = f"http://127.0.0.1:{free_port()}"
    return GatewaySettings(
        **urls,
        read_timeout_s=0.5,
        status_timeout_s=0.5,
        status_cache_s=0,
        log_json=False,
        log_level="WARNING",
        **overrides,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(
    running: Callable[..., Any], upstream: tuple[Upstream, str]
) -> AsyncIterator[httpx.AsyncClient]:
    url = await running(create_app(gateway_settings(upstream[1])))
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
def token() -> Callable[..., str]:
    return mint
