"""The protocol ``python -m vareon_gateway`` serves with (one write per response): responses,
keep-alive, HEAD, streams both ways and WebSockets still behave as under plain uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from vareon_chassis.embedded import free_port
from vareon_gateway.serving import GatewayHttpProtocol, create_app
from websockets.asyncio.client import connect

from .conftest import Upstream, gateway_settings
from .test_websocket import PATH, ShellUpstream, bearer


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, http=GatewayHttpProtocol, log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    running: Callable[..., Any], upstream: tuple[Upstream, str]
) -> AsyncIterator[tuple[Upstream, ShellUpstream, str]]:
    shell = ShellUpstream()
    settings = gateway_settings(upstream[1])
    settings.arcana_url = await running(shell.app)
    async with serving(create_app(settings)) as address:
        yield upstream[0], shell, address


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


async def test_responses_on_one_keep_alive_connection(
    served: tuple[Upstream, ShellUpstream, str],
) -> None:
    host, port = served[2].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for i in range(3):
            writer.write(f"GET /api/v1/auth/login?n={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head, body = await asyncio.wait_for(_read_response(reader), 5)
            assert head.startswith(b"HTTP/1.1 200")
            assert json.loads(body)["query"] == f"n={i}"
        writer.write(b"HEAD /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 5)  # the server closes after it
        # the stand-in answers HEAD with 405: what matters is the head arrives, no body
        assert rest.startswith(b"HTTP/1.1 405") and rest.endswith(b"\r\n\r\n")
    finally:
        writer.close()


async def test_a_chunked_upload_streams_through(
    served: tuple[Upstream, ShellUpstream, str], token: Callable[..., str]
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part{i};".encode()
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(base_url=f"http://{served[2]}", timeout=10) as client:
        upload = await client.post(
            "/api/v1/wallet/upload", content=body(), headers={"Authorization": f"Bearer {token()}"}
        )
    assert upload.json()["body"] == "part0;part1;part2;"


async def test_server_sent_events_flow_before_the_service_finishes(
    running: Callable[..., Any], upstream: tuple[Upstream, str], token: Callable[..., str]
) -> None:
    service, url = upstream
    service.stream_may_finish.clear()
    service.stream_finished.clear()
    async with (
        serving(create_app(gateway_settings(url))) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as client,
        client.stream(
            "GET",
            "/api/v1/arcana/sessions/s1/events",
            headers={"Authorization": f"Bearer {token()}"},
        ) as response,
    ):
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 5) == "data: first s1"
        assert not service.stream_finished.is_set()
        service.stream_may_finish.set()
        assert [line async for line in lines if line] == ["data: second"]


async def test_websocket_through_the_protocol(
    served: tuple[Upstream, ShellUpstream, str], token: Callable[..., str]
) -> None:
    async with connect(f"ws://{served[2]}{PATH}", subprotocols=bearer(token())) as ws:
        assert json.loads(await ws.recv())["sid"] == "s1"
        await ws.send("help")
        assert await ws.recv() == "echo help"
