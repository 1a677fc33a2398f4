"""JWKS fetching under load (gateway issue item 8), against a real JWKS server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from vareon_chassis.auth import JWKSKeys, TokenVerifier
from vareon_chassis.errors import ServiceUnavailable, Unauthorized
from vareon_chassis.testing.tokens import AUDIENCE, ISSUER, TestSigningKey


class KeyServer:
    def __init__(self, key: TestSigningKey) -> None:
        self.key = key
        self.fetches = 0
        self.app = Starlette(routes=[Route("/.well-known/jwks.json", self.jwks)])

    async def jwks(self, request: Request) -> JSONResponse:
        self.fetches += 1
        await asyncio.sleep(0.05)  # a fetch takes a while: concurrent callers overlap it
        return JSONResponse(self.key.jwks())


def verifier(url: str) -> TokenVerifier:
    return TokenVerifier(JWKSKeys(url), issuer=ISSUER, audience=AUDIENCE)


async def test_a_burst_with_an_unknown_key_costs_one_fetch(running: Callable[..., Any]) -> None:
    """Item 8 (JWKS): before, every caller queued on the lock and then fetched again (no
    re-check after the lock): 100 concurrent tokens with an unknown kid made 100+ fetches."""
    key = TestSigningKey()
    server = KeyServer(key)
    url = await running(server.app) + "/.well-known/jwks.json"
    # no refresh spacing: the single flight alone must keep the burst to one fetch
    check = TokenVerifier(JWKSKeys(url, min_refresh_s=0), issuer=ISSUER, audience=AUDIENCE)
    await check.verify(key.token())  # keys known
    assert server.fetches == 1
    stranger = TestSigningKey(kid="rotated-or-forged")
    results = await asyncio.gather(
        *(check.verify(stranger.token()) for _ in range(100)), return_exceptions=True
    )
    assert all(isinstance(r, Unauthorized) for r in results)
    assert server.fetches <= 2, server.fetches
    # remembered as unknown for a while: more of the same cost nothing
    with pytest.raises(Unauthorized, match="unknown signing key"):
        await check.verify(stranger.token())
    assert server.fetches <= 2
    await check.verify(key.token())  # known keys keep working throughout


async def test_identity_unreachable_is_503_and_fetched_at_most_once() -> None:
    """Item 8 (JWKS): before, an unreachable identity made every request a 401 "signing keys
    unavailable" (the client's token blamed) and every request refetched under one lock."""
    connections = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()  # accepts, then goes away: what a dying identity looks like

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        check = verifier(f"http://127.0.0.1:{port}/.well-known/jwks.json")
        token = TestSigningKey().token()
        results = await asyncio.gather(
            *(check.verify(token) for _ in range(50)), return_exceptions=True
        )
        assert all(isinstance(r, ServiceUnavailable) for r in results), results[:3]
        assert results[0].headers.get("Retry-After")  # type: ignore[union-attr]
        assert connections == 1
        with pytest.raises(ServiceUnavailable):  # the failure is remembered for a while too
            await check.verify(token)
        assert connections == 1
    finally:
        server.close()
        await server.wait_closed()
