"""HTTP/1.1 to the services: pooled keep-alive connections as asyncio protocols, responses
parsed by httptools. The proxy's whole client: one request at a time per connection, its
head written in one ``write`` with the bytes built once per pool (request line prefix, Host),
no request/response/timer objects beyond one future and one timer handle per request.

aiohttp did the same hop with ~2x the CPU (docs/gateway.md, step 8): a ClientRequest, a
ClientResponse, a StreamReader, header multidicts and a timeout reschedule on every read.

Read timeouts are per read, checked by one timer per request: a timer that finds data seen
since it was armed re-arms itself, so a stream is cut between ``read_timeout`` and twice that
after its last byte, never while it keeps flowing (or while the client is the slow side).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

HIGH_WATER = 262_144
"""Response bytes buffered before the upstream socket stops being read (a slow client)."""
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class UpstreamError(Exception):
    """Something failed between the gateway and a service."""


class Unreachable(UpstreamError):
    """No connection: refused, unresolvable, connect timeout, or no pooled one in time."""


class Disconnected(UpstreamError):
    """Closed before a complete response head."""


class ReadTimeout(UpstreamError):
    """Nothing read for the read timeout."""


class InvalidResponse(UpstreamError):
    """Not HTTP/1.x."""


class Connection(asyncio.Protocol):
    """One keep-alive connection to a service, and the response being read on it."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.counted = True
        self.idle_since = 0.0
        self.write_paused = False
        self.drained: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.keep_alive = False
        self.error: UpstreamError | None = None
        self.seen = False
        self.received = False
        self.timer: asyncio.TimerHandle | None = None
        self.head_only = False
        self.informational = False
        self.eof_body = False
        self.paused = False
        self.whole = False
        self.writer: asyncio.Task[None] | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.head is None:  # idle: a service has nothing to say between requests
            self._abort(None)
            return
        self.seen = self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._abort(InvalidResponse("the service sent no valid HTTP/1.1 response"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost does the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head is not None and not self.complete:
            if self.head.done() and self.eof_body and self.error is None:
                self.complete = True  # a body delimited by the connection's end
            elif self.error is None:
                self.error = Disconnected("the service closed the connection")
            self._wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.pool.forget(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue and friends: the real head follows
            self.informational = True
            self.headers = []
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        if self.head_only:
            self.complete = True
            self.keep_alive = False  # httptools would wait for a body a HEAD never gets
        elif status not in (204, 304):
            self.eof_body = not any(
                k.lower() in (b"content-length", b"transfer-encoding") for k, _ in self.headers
            )
        assert self.head is not None
        if not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and not self.whole and self.transport:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        self.complete = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        self._wake()

    # the request side

    def _wake(self) -> None:
        head, waiter = self.head, self.waiter
        if head is not None and not head.done():
            if self.error is not None:
                head.set_exception(self.error)
            else:
                head.set_result(None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _abort(self, error: UpstreamError | None) -> None:
        if error is not None and self.error is None and not self.complete:
            self.error = error
        self.keep_alive = False
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _on_timer(self) -> None:
        if self.complete or self.closed:
            return
        if self.seen or self.paused:
            self.seen = False
            self.timer = self.loop.call_later(self.pool.read_timeout, self._on_timer)
            return
        self._abort(ReadTimeout("the service did not answer in time"))

    async def send(
        self, head: bytes, body: bytes | AsyncIterator[bytes] | None, chunked: bool, method: str
    ) -> None:
        """Writes the request and waits for the response head (status and headers)."""
        assert self.transport is not None
        self.head = self.loop.create_future()
        self.head_only = method == "HEAD"
        self.timer = self.loop.call_later(self.pool.read_timeout, self._on_timer)
        if body is None or isinstance(body, bytes):
            self.transport.write(head + body if body else head)
        else:
            self.transport.write(head)
            self.writer = self.loop.create_task(self._stream_body(body, chunked))
            self.writer.add_done_callback(self._written)
        await self.head

    async def _stream_body(self, body: AsyncIterator[bytes], chunked: bool) -> None:
        assert self.transport is not None
        async for chunk in body:
            if self.closed:
                return
            self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            if self.write_paused:
                self.drained = self.loop.create_future()
                await self.drained
        if chunked and not self.closed:
            self.transport.write(b"0\r\n\r\n")

    def _written(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._abort(Disconnected("the request body could not be sent"))

    async def read(self) -> bytes:
        """The whole body (the caller knows it is small: nothing is paused for it)."""
        self.whole = True
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        while not self.complete:
            if self.error is not None:
                raise self.error
            self.waiter = self.loop.create_future()
            await self.waiter
        if self.error is not None:
            raise self.error
        body = b"".join(self.chunks)
        self.chunks.clear()
        return body

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body as it arrives; None at its end."""
        while not self.chunks:
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            self.waiter = self.loop.create_future()
            await self.waiter
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= HIGH_WATER // 4 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk

    def finish(self) -> None:
        """Back to the pool if the response was read to its end, else closed."""
        if self.timer is not None:
            self.timer.cancel()
        writer = self.writer
        reusable = (
            self.complete
            and self.keep_alive
            and self.error is None
            and not self.closed
            and (writer is None or (writer.done() and not writer.cancelled()))
        )
        if writer is not None and not writer.done():
            writer.cancel()
        if reusable:
            self._reset()
            self.pool.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        self.keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True
        self.pool.forget(self)


class Pool:
    """Keep-alive connections to one origin (scheme, host, port): at most ``limit`` open,
    the most recently used taken first, none kept idle past ``keepalive_s``."""

    def __init__(
        self,
        origin: str,
        *,
        limit: int,
        connect_timeout: float,
        pool_timeout: float,
        read_timeout: float,
        keepalive_s: float,
    ) -> None:
        parts = urlsplit(origin)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc.encode("idna")
        self.limit = limit
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.read_timeout = read_timeout
        self.keepalive_s = keepalive_s
        self.loop = asyncio.get_running_loop()
        self.idle: list[Connection] = []
        self.open = 0
        self.waiting: deque[asyncio.Future[None]] = deque()
        self._ssl = ssl.create_default_context() if self.tls else None

    async def request(
        self,
        method: str,
        head: bytes,
        body: bytes | AsyncIterator[bytes] | None,
        chunked: bool = False,
    ) -> Connection:
        """Sends the request (``head``: request line and headers, blank line included) and
        returns its connection once the response head is in; ``finish()`` it when done."""
        connection = await self.acquire()
        reused = connection.idle_since > 0
        try:
            await connection.send(head, body, chunked, method)
            return connection
        except Disconnected:
            connection.close()
            # A keep-alive connection the service closed as we reused it: nothing was read,
            # so an idempotent request with its body in hand is safe to send again.
            if not (reused and not connection.received and method in IDEMPOTENT):
                raise
            if body is not None and not isinstance(body, bytes):
                raise
        except BaseException:
            connection.close()
            raise
        connection = await self.acquire(fresh=True)
        try:
            await connection.send(head, body, chunked, method)
        except BaseException:
            connection.close()
            raise
        return connection

    async def acquire(self, fresh: bool = False) -> Connection:
        now = self.loop.time()
        while self.idle and not fresh:
            connection = self.idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_s:
                return connection
            connection.close()
        if self.open >= self.limit:
            await self._wait_for_room()
            if self.idle and not fresh:
                return await self.acquire()
        self.open += 1
        try:
            _, connection = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: Connection(self),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.open -= 1
            self._wake_one()
            raise Unreachable(f"no connection to {self.host}:{self.port}") from exc
        except BaseException:
            self.open -= 1
            self._wake_one()
            raise
        return connection

    async def _wait_for_room(self) -> None:
        deadline = self.loop.time() + self.pool_timeout
        while self.open >= self.limit and not self.idle:
            waiter = self.loop.create_future()
            self.waiting.append(waiter)
            try:
                await asyncio.wait_for(waiter, max(0.0, deadline - self.loop.time()))
            except TimeoutError as exc:
                raise Unreachable("no pooled connection free in time") from exc
            finally:
                if waiter in self.waiting:
                    self.waiting.remove(waiter)

    def put_back(self, connection: Connection) -> None:
        connection.idle_since = self.loop.time()
        self.idle.append(connection)
        self._wake_one()

    def forget(self, connection: Connection) -> None:
        """A connection closed: its slot is free (counted once, however it closed)."""
        if connection.counted:
            connection.counted = False
            self.open -= 1
            if connection in self.idle:
                self.idle.remove(connection)
            self._wake_one()

    def _wake_one(self) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for connection in list(self.idle):
            connection.close()
        self.idle.clear()
