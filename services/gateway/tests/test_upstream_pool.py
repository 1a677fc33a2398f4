"""The proxy's HTTP/1.1 client against raw servers that misbehave on purpose: keep-alive
reuse, a kept-alive connection closed as it is reused, bodies delimited by the connection's
end, 100 Continue, HEAD, the pool's limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from vareon_gateway.upstream_pool import Disconnected, Pool, Unreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """Serves ``handler(reader, writer, n)`` for the n-th connection; yields (origin, [n])."""
    count = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count[0] += 1
        try:
            await handler(reader, writer, count[0])
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", count
    finally:
        listening.close()


def pool(origin: str, **overrides: float) -> Pool:
    options = {
        "limit": 10,
        "connect_timeout": 2.0,
        "pool_timeout": 2.0,
        "read_timeout": 5.0,
        "keepalive_s": 30.0,
        **overrides,
    }
    return Pool(origin, **options)  # type: ignore[arg-type]


def head(method: str = "GET") -> bytes:
    return f"{method} / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".encode()


async def fetch(upstreams: Pool, method: str = "GET") -> tuple[int, bytes]:
    connection = await upstreams.request(method, head(method), None)
    try:
        return connection.status, await connection.read()
    finally:
        connection.finish()


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()


async def test_requests_in_turn_reuse_one_connection() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await answer_each(r, w)

    async with server(handler) as (origin, count):
        upstreams = pool(origin)
        assert [await fetch(upstreams) for _ in range(3)] == [(200, b"ok")] * 3
        assert count == [1]
        upstreams.close()


async def test_a_kept_alive_connection_closed_as_it_is_reused_is_retried_when_idempotent() -> None:
    """The first connection answers once, then hangs up on the next request without a byte."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        if n % 2 == 1:
            await r.readuntil(b"\r\n\r\n")
            w.write(OK)
            await w.drain()
            await r.readuntil(b"\r\n\r\n")
            return  # closed without answering
        await answer_each(r, w)

    async with server(handler) as (origin, count):
        upstreams = pool(origin)
        assert await fetch(upstreams) == (200, b"ok")
        assert await fetch(upstreams) == (200, b"ok")  # retried on connection 2
        assert count == [2]
        upstreams.close()
        upstreams = pool(origin)
        assert await fetch(upstreams, "POST") == (200, b"ok")  # connection 3, answered once
        with pytest.raises(Disconnected):  # a POST may have been acted on: not sent twice
            await fetch(upstreams, "POST")
        upstreams.close()


async def test_a_body_delimited_by_the_end_of_the_connection() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the ")
        await w.drain()
        w.write(b"end")

    async with server(handler) as (origin, _):
        upstreams = pool(origin)
        assert await fetch(upstreams) == (200, b"until the end")
        assert upstreams.open == 0 and not upstreams.idle
        upstreams.close()


async def test_100_continue_is_skipped_and_head_responses_have_no_body() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        while True:
            request = await r.readuntil(b"\r\n\r\n")
            if request.startswith(b"HEAD"):
                w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n")
            else:
                w.write(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
            await w.drain()

    async with server(handler) as (origin, _):
        upstreams = pool(origin)
        assert await fetch(upstreams, "POST") == (200, b"ok")
        connection = await asyncio.wait_for(upstreams.request("HEAD", head("HEAD"), None), 5)
        assert connection.status == 200 and await connection.read() == b""
        connection.finish()
        assert await fetch(upstreams) == (200, b"ok")
        upstreams.close()


async def test_the_pool_limit_makes_requests_wait_then_gives_up() -> None:
    held, release = asyncio.Event(), asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        while True:
            await r.readuntil(b"\r\n\r\n")
            held.set()
            await release.wait()
            w.write(OK)
            await w.drain()

    async with server(handler) as (origin, count):
        upstreams = pool(origin, limit=1, pool_timeout=0.2)
        first = asyncio.ensure_future(fetch(upstreams))
        await asyncio.wait_for(held.wait(), 5)  # the first request holds the one connection
        with pytest.raises(Unreachable):  # the one connection stays busy past the pool timeout
            await fetch(upstreams)
        upstreams.pool_timeout = 10
        waiting = asyncio.ensure_future(fetch(upstreams))
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.wait_for(first, 5) == (200, b"ok")
        assert await asyncio.wait_for(waiting, 5) == (200, b"ok")  # the same connection, freed
        assert count == [1] and upstreams.open == 1
        upstreams.close()
