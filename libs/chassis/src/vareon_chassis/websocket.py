"""The bearer token of a WebSocket, one way for every socket (the gateway's edge, arcana's shell).

Browsers cannot set Authorization on a WebSocket, so the token comes as the subprotocol pair
``bearer, <token>`` (the server answers ``bearer`` only, never echoing the token), as an
Authorization header (non-browser clients), or in the first message
``{"type": "auth", "token": "..."}``. Every failure is ``WebSocketRefused`` with close code
4401 and a reason the client can read.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from fastapi import WebSocket
from fastapi.websockets import WebSocketState

BEARER = "bearer"
CLOSE_UNAUTHORIZED = 4401
AUTH_MESSAGE = '{"type": "auth", "token": ...}'


class WebSocketRefused(Exception):
    """Close the socket with ``code`` and ``reason`` (accept first if it was not accepted)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class SocketToken:
    token: str
    first_message: str | None
    """The auth message the token came in (a proxy forwards it), None when offered up front."""


def offered_token(websocket: WebSocket) -> str | None:
    """The token of the handshake (subprotocol pair or Authorization header), if any."""
    offered = [p.strip() for p in websocket.scope.get("subprotocols") or []]
    if len(offered) == 2 and offered[0].lower() == BEARER and offered[1]:
        return offered[1]
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == BEARER and token.strip() else None


def bearer_subprotocol(websocket: WebSocket) -> str | None:
    """What to accept with: ``bearer`` when the client offered its token that way."""
    offered = [p.strip().lower() for p in websocket.scope.get("subprotocols") or []]
    return BEARER if offered[:1] == [BEARER] else None


async def socket_token(websocket: WebSocket, timeout_s: float) -> SocketToken:
    """The socket's bearer token: from the handshake, else from the first message (the socket
    is accepted first if it was not, so the client can send one), waiting ``timeout_s``."""
    if (token := offered_token(websocket)) is not None:
        return SocketToken(token, None)
    if websocket.client_state == WebSocketState.CONNECTING:
        await websocket.accept()
    try:
        first = await asyncio.wait_for(websocket.receive_text(), timeout_s)
    except TimeoutError:
        raise WebSocketRefused(CLOSE_UNAUTHORIZED, "no token in time") from None
    try:
        message = json.loads(first)
    except ValueError:
        message = None
    if not (isinstance(message, dict) and message.get("type") == "auth"):
        raise WebSocketRefused(CLOSE_UNAUTHORIZED, f"first message must be {AUTH_MESSAGE}")
    token = message.get("token")
    if not isinstance(token, str) or not token:
        raise WebSocketRefused(CLOSE_UNAUTHORIZED, "bearer token required")
    return SocketToken(token, first)
