from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from vareon_chassis.embedded import free_port
from vareon_gateway.app import create_app
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from .conftest import Upstream, gateway_settings

PATH = "/api/v1/arcana/ws/shell/s1"


def bearer(token: str) -> list[Subprotocol]:
    """The subprotocols a browser offers to carry its access token."""
    return [Subprotocol("bearer"), Subprotocol(token)]


class ShellUpstream:
    """A small real WebSocket service: reports its handshake, echoes, closes on request."""

    def __init__(self) -> None:
        self.connections = 0
        self.closed: asyncio.Queue[int] = asyncio.Queue()
        self.app = FastAPI()
        self.app.add_api_websocket_route("/api/v1/arcana/ws/shell/{sid}", self.shell)

    async def shell(self, websocket: WebSocket, sid: str) -> None:
        self.connections += 1
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol="bearer" if offered[:1] == ["bearer"] else None)
        await websocket.send_json(
            {
                "sid": sid,
                "query": websocket.url.query,
                "subprotocols": offered,
                "request_id": websocket.headers.get("x-request-id"),
            }
        )
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    await self.closed.put(message.get("code", 1000))
                    return
                if message.get("text") == "close-me":
                    await websocket.close(4404, "session gone")
                    return
                if message.get("text") is not None:
                    await websocket.send_text("echo " + message["text"])
                else:
                    await websocket.send_bytes(message["bytes"][::-1])
        except WebSocketDisconnect as exc:
            await self.closed.put(exc.code)


@pytest_asyncio.fixture(loop_scope="session")
async def stand(
    running: Callable[..., Any], upstream: tuple[Upstream, str]
) -> AsyncIterator[tuple[ShellUpstream, str]]:
    shell = ShellUpstream()
    settings = gateway_settings(upstream[1], websocket_auth_timeout_s=1.0)
    settings.arcana_url = await running(shell.app)
    gateway = await running(create_app(settings))
    yield shell, gateway.replace("http://", "ws://")


async def closed_with(ws: Any) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.recv()
    return ws.close_code, ws.close_reason


async def test_subprotocol_token_is_checked_and_passed_through(
    stand: tuple[ShellUpstream, str], token: Callable[..., str]
) -> None:
    shell, gateway = stand
    jwt = token()
    async with connect(gateway + PATH + "?x=1", subprotocols=bearer(jwt)) as ws:
        assert ws.subprotocol == "bearer"
        hello = json.loads(await ws.recv())
        assert hello["sid"] == "s1" and hello["query"] == "x=1"
        assert hello["subprotocols"] == ["bearer", jwt] and hello["request_id"]
        await ws.send("help")
        assert await ws.recv() == "echo help"
        await ws.send(b"\x01\x02")
        assert await ws.recv() == b"\x02\x01"
    assert await asyncio.wait_for(shell.closed.get(), 5) == 1000


async def test_token_in_the_first_message(
    stand: tuple[ShellUpstream, str], token: Callable[..., str]
) -> None:
    _, gateway = stand
    async with connect(gateway + PATH) as ws:
        assert ws.subprotocol is None
        auth = json.dumps({"type": "auth", "token": token()})
        await ws.send(auth)
        assert json.loads(await ws.recv())["subprotocols"] == []
        assert await ws.recv() == "echo " + auth  # forwarded: the service checks it again


async def test_missing_and_forged_tokens_never_reach_the_service(
    stand: tuple[ShellUpstream, str], token: Callable[..., str]
) -> None:
    shell, gateway = stand
    before = shell.connections
    forged = token(key=Ed25519PrivateKey.generate())
    async with connect(gateway + PATH, subprotocols=bearer(forged)) as ws:
        assert ws.subprotocol == "bearer"
        assert await closed_with(ws) == (4401, "invalid token")
    async with connect(gateway + PATH) as ws:
        await ws.send("help")
        assert await closed_with(ws) == (
            4401,
            'first message must be {"type": "auth", "token": ...}',
        )
    async with connect(gateway + PATH) as ws:  # says nothing: timed out
        assert await closed_with(ws) == (4401, "no token in time")
    assert shell.connections == before


async def test_upstream_close_code_reaches_the_client(
    stand: tuple[ShellUpstream, str], token: Callable[..., str]
) -> None:
    _, gateway = stand
    async with connect(gateway + PATH, subprotocols=bearer(token())) as ws:
        await ws.recv()
        await ws.send("close-me")
        assert await closed_with(ws) == (4404, "session gone")


async def test_unknown_websocket_paths_and_a_down_service(
    running: Callable[..., Any], upstream: tuple[Upstream, str], token: Callable[..., str]
) -> None:
    settings = gateway_settings(upstream[1])
    settings.arcana_url = f"http://127.0.0.1:{free_port()}"
    gateway = (await running(create_app(settings))).replace("http://", "ws://")
    async with connect(gateway + "/api/v1/wallet/ws", subprotocols=bearer(token())) as ws:
        assert (await closed_with(ws))[0] == 4404
    async with connect(gateway + PATH, subprotocols=bearer(token())) as ws:
        assert await closed_with(ws) == (1013, "the arcana service is not reachable")
