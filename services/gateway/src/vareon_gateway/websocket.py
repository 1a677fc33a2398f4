"""WebSocket proxy for ``/api/v1/arcana/ws/*`` (the route: ``api/websocket.py``): the token
checked at the edge, then frames relayed both ways until either side closes, whose close
code and reason reach the other side.

Browsers cannot set Authorization on a WebSocket, so the token comes as the subprotocol pair
``bearer, <token>`` (passed upstream unchanged; the service answers ``bearer`` and the gateway
accepts the client with whatever the service chose), as an Authorization header, or in the
first message ``{"type": "auth", "token": ...}``, which the gateway reads, checks and then
forwards as the service's first message.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from vareon_chassis.context import request_id_var
from vareon_chassis.websocket import WebSocketRefused as Refused
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from vareon_gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)
CLOSE_NOT_FOUND = 4404
CLOSE_TRY_AGAIN = 1013
CLOSE_BAD_GATEWAY = 1014
_UNSENDABLE = {1005: 1000, 1006: CLOSE_BAD_GATEWAY, 1015: CLOSE_BAD_GATEWAY}
"""Codes that only report what happened on a connection and may not be sent in a frame."""


def _upstream_url(websocket: WebSocket, service: str, settings: GatewaySettings) -> str:
    base = settings.upstream_url(service)
    base = "ws" + base.removeprefix("http") if base.startswith("http") else base
    path = (websocket.scope.get("raw_path") or websocket.url.path.encode()).decode("latin-1")
    query = websocket.scope.get("query_string") or b""
    return base + path + ("?" + query.decode("latin-1") if query else "")


def _upstream_headers(websocket: WebSocket) -> list[tuple[str, str]]:
    client = websocket.client.host if websocket.client else "unknown"
    headers = [("x-forwarded-for", client), ("x-request-id", request_id_var.get() or "")]
    if authorization := websocket.headers.get("authorization"):
        headers.append(("authorization", authorization))
    return headers


async def open_upstream(
    websocket: WebSocket, service: str, settings: GatewaySettings
) -> ClientConnection:
    offered = [Subprotocol(p.strip()) for p in websocket.scope.get("subprotocols") or []]
    try:
        return await connect(
            _upstream_url(websocket, service, settings),
            subprotocols=offered or None,
            additional_headers=_upstream_headers(websocket),
            open_timeout=settings.connect_timeout_s,
            max_size=settings.websocket_max_message_bytes,
        )
    except (OSError, TimeoutError, InvalidHandshake, InvalidStatus) as exc:
        log.warning("websocket upstream unavailable", service=service, error=type(exc).__name__)
        raise Refused(CLOSE_TRY_AGAIN, f"the {service} service is not reachable") from exc


async def _client_to_upstream(websocket: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            code = message.get("code") or 1000
            await upstream.close(_UNSENDABLE.get(code, code), message.get("reason") or "")
            return
        if message.get("text") is not None:
            await upstream.send(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send(message["bytes"])


async def _upstream_to_client(websocket: WebSocket, upstream: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for data in upstream:
            if isinstance(data, str):
                await websocket.send_text(data)
            else:
                await websocket.send_bytes(data)
    code = upstream.close_code or 1006
    await websocket.close(_UNSENDABLE.get(code, code), upstream.close_reason or "")


async def relay(websocket: WebSocket, upstream: ClientConnection) -> None:
    tasks = [
        asyncio.create_task(_client_to_upstream(websocket, upstream)),
        asyncio.create_task(_upstream_to_client(websocket, upstream)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            with contextlib.suppress(WebSocketDisconnect, ConnectionClosed, OSError, RuntimeError):
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(CLOSE_BAD_GATEWAY if upstream.close_code is None else 1000)
