"""The bearer token of a WebSocket: handshake (subprotocol pair, header) or first message."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from vareon_chassis.websocket import WebSocketRefused, bearer_subprotocol, socket_token


def _app(accept_first: bool) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        if accept_first:  # arcana's shell accepts before it reads a token
            await websocket.accept(subprotocol=bearer_subprotocol(websocket))
        try:
            got = await socket_token(websocket, timeout_s=0.5)
        except WebSocketRefused as exc:
            if websocket.client_state.name == "CONNECTING":
                await websocket.accept(subprotocol=bearer_subprotocol(websocket))
            await websocket.close(exc.code, exc.reason)
            return
        if websocket.client_state.name == "CONNECTING":  # the gateway accepts after the check
            await websocket.accept(subprotocol=bearer_subprotocol(websocket))
        await websocket.send_json({"token": got.token, "first": got.first_message})
        await websocket.close()

    return app


@pytest.mark.parametrize("accept_first", [True, False])
def test_token_from_the_handshake(accept_first: bool) -> None:
    with TestClient(_app(accept_first)) as client:
        with client.websocket_connect("/ws", subprotocols=["bearer", "t1"]) as ws:
            assert ws.accepted_subprotocol == "bearer"  # never the token itself
            assert ws.receive_json() == {"token": "t1", "first": None}
        with client.websocket_connect("/ws", headers={"Authorization": "Bearer t2"}) as ws:
            assert ws.accepted_subprotocol is None
            assert ws.receive_json() == {"token": "t2", "first": None}


@pytest.mark.parametrize("accept_first", [True, False])
def test_token_from_the_first_message(accept_first: bool) -> None:
    auth = '{"type": "auth", "token": "t3"}'
    with TestClient(_app(accept_first)) as client:
        with client.websocket_connect("/ws", headers={"Authorization": "Basic YTpi"}) as ws:
            ws.send_text(auth)
            assert ws.receive_json() == {"token": "t3", "first": auth}


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ("help", 'first message must be {"type": "auth", "token": ...}'),
        ('{"type": "hello"}', 'first message must be {"type": "auth", "token": ...}'),
        ('{"type": "auth", "token": ""}', "bearer token required"),
        ('{"type": "auth", "token": 7}', "bearer token required"),
        (None, "no token in time"),
    ],
)
@pytest.mark.parametrize("accept_first", [True, False])
def test_refusals_close_with_4401(first: str | None, reason: str, accept_first: bool) -> None:
    with TestClient(_app(accept_first)) as client:
        with client.websocket_connect("/ws") as ws:
            if first is not None:
                ws.send_text(first)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4401, reason)
