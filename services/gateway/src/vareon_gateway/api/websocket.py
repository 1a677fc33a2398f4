"""The WebSocket route: checks the token at the edge, then relays (``vareon_gateway.websocket``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.websockets import WebSocketState
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.errors import Unauthorized
from vareon_chassis.websocket import CLOSE_UNAUTHORIZED, bearer_subprotocol, socket_token
from vareon_chassis.websocket import WebSocketRefused as Refused

from vareon_gateway import upstreams
from vareon_gateway import websocket as proxy
from vareon_gateway.settings import GatewaySettings
from vareon_gateway.websocket import CLOSE_NOT_FOUND

router = APIRouter()


@router.websocket("/{path:path}")
async def proxy_websocket(websocket: WebSocket) -> None:
    settings: GatewaySettings = websocket.app.state.settings
    verifier: TokenVerifier = websocket.app.state.token_verifier
    path = websocket.url.path
    route = upstreams.resolve(path)
    first = None
    try:
        if route is None or not upstreams.is_websocket_path(path):
            raise Refused(CLOSE_NOT_FOUND, f"no WebSocket is served at {path[:100]}")
        got = await socket_token(websocket, settings.websocket_auth_timeout_s)
        token, first = got.token, got.first_message
        try:
            await verifier.verify(token)
        except Unauthorized as exc:
            raise Refused(CLOSE_UNAUTHORIZED, exc.detail) from None
        upstream = await proxy.open_upstream(websocket, route.service, settings)
    except Refused as exc:
        if websocket.client_state == WebSocketState.CONNECTING:
            await websocket.accept(subprotocol=bearer_subprotocol(websocket))
        await websocket.close(exc.code, exc.reason)
        return
    except WebSocketDisconnect:
        return
    if websocket.client_state == WebSocketState.CONNECTING:
        await websocket.accept(subprotocol=upstream.subprotocol)
    if first is not None:
        await upstream.send(first)
    await proxy.relay(websocket, upstream)
