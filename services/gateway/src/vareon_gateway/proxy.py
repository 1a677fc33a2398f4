"""Reverse proxy on raw ASGI: the request streamed to a service over a pooled keep-alive
connection (``upstream_pool``), its response streamed back unbuffered. No Request/Response
objects on this path: that is where a FastAPI catch-all spent ~1.2 ms of CPU per request
(docs/gateway.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from starlette.types import Receive, Scope, Send
from vareon_chassis.observability import ROUTE_HEADER

from vareon_gateway.errors import (
    BadGateway,
    ClientClosedRequest,
    PayloadTooLarge,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from vareon_gateway.settings import GatewaySettings
from vareon_gateway.upstream_pool import (
    Connection,
    Disconnected,
    Pool,
    ReadTimeout,
    Unreachable,
    UpstreamError,
)

ROUTE = "vareon.route"
"""Scope key: the route template the service answered with (its ``x-vareon-route``)."""

log = structlog.get_logger(__name__)

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_SET_BY_GATEWAY = HOP_BY_HOP | {
    b"host",
    b"x-request-id",
    b"x-client-request-id",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"content-length",  # written from the body that is sent
}
# uvicorn writes its own Date and Server; the service's copies would be duplicates.
_SET_BY_SERVER = HOP_BY_HOP | {b"date", b"server", b"x-request-id", ROUTE_HEADER}
BUFFER_BODY_BYTES = 65_536
"""Request bodies up to this size (by Content-Length) are read whole and sent in one write;
larger or chunked ones are streamed."""
BUFFER_RESPONSE_BYTES = 1_048_576


_TOKENS: dict[bytes, frozenset[bytes]] = {}


def _named_by_connection(value: bytes) -> frozenset[bytes]:
    """The header names one Connection header lists, less those dropped anyway (memoised:
    ``keep-alive`` and ``close`` are nearly all there is)."""
    named = _TOKENS.get(value)
    if named is None:
        named = frozenset(t.strip().lower() for t in value.split(b",")) - HOP_BY_HOP
        if len(_TOKENS) < 256:
            _TOKENS[value] = named
    return named


def request_headers(
    scope: Scope, settings: GatewaySettings, request_id: str, client_request_id: str | None
) -> list[tuple[bytes, bytes]]:
    """What goes upstream: the client's headers less hop-by-hop ones, plus the edge's own."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    drop = _SET_BY_GATEWAY
    host = previous_for = previous_proto = None
    out: list[tuple[bytes, bytes]] = []
    for key, value in raw:
        if key in drop:
            if key == b"host":
                host = value
            elif key == b"x-forwarded-for":
                previous_for = value
            elif key == b"x-forwarded-proto":
                previous_proto = value
            elif key == b"connection" and (named := _named_by_connection(value) - drop):
                drop = drop | named
                out = [(k, v) for k, v in out if k not in drop]
            continue
        if key not in drop:
            out.append((key, value))
    client = scope.get("client")
    client_ip = client[0].encode() if client else b"unknown"
    trust = settings.trust_forwarded_headers
    forwarded_for = previous_for + b", " + client_ip if trust and previous_for else client_ip
    proto = previous_proto if trust and previous_proto else scope.get("scheme", "http").encode()
    out.append((b"x-forwarded-for", forwarded_for))
    out.append((b"x-forwarded-proto", proto))
    out.append((b"x-request-id", request_id.encode()))
    if client_request_id:
        out.append((b"x-client-request-id", client_request_id.encode()))
    if host:
        out.append((b"x-forwarded-host", host))
    return out


def relayed_headers(
    raw: list[tuple[bytes, bytes]], request_id: bytes
) -> tuple[list[tuple[bytes, bytes]], bytes | None, int | None]:
    """What goes back to the client, and the service's route template and Content-Length."""
    drop = _SET_BY_SERVER
    out: list[tuple[bytes, bytes]] = []
    route = length = None
    for key, value in raw:
        low = key.lower()
        if low in drop:
            if low == b"connection":
                if named := _named_by_connection(value) - drop:
                    drop = drop | named
                    out = [(k, v) for k, v in out if k not in drop]
            elif low == ROUTE_HEADER:
                route = value
            continue
        if low == b"content-length":
            length = value
        out.append((low, value))
    out.append((b"x-request-id", request_id))
    try:
        size = int(length) if length is not None else None
    except ValueError:
        size = None
    return out, route, size


def response_headers(
    raw: list[tuple[bytes, bytes]], request_id: bytes
) -> list[tuple[bytes, bytes]]:
    return relayed_headers(raw, request_id)[0]


class BodyReader:
    """The client's request body, with the edge's size limit checked while it streams."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive, self.limit = receive, limit
        self.failure: Exception | None = None
        self.done = False

    async def whole(self) -> bytes:
        chunks = [chunk async for chunk in self.stream()]
        return b"".join(chunks)

    async def stream(self) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.failure = ClientClosedRequest("the client went away while sending the body")
                raise self.failure
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                self.failure = PayloadTooLarge(
                    f"The request body is over the limit of {self.limit} bytes.", limit=self.limit
                )
                raise self.failure
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                self.done = True
                return


def _error(exc: UpstreamError, service: str) -> Exception:
    if isinstance(exc, Unreachable):
        return UpstreamUnavailable(
            f"The {service} service is not reachable.",
            headers={"Retry-After": "1"},
            service=service,
        )
    if isinstance(exc, Disconnected):
        # Accepted, then closed without a status line: a service shedding load or
        # restarting. Nothing was processed that a client could see, so: try again.
        return UpstreamUnavailable(
            f"The {service} service closed the connection without answering.",
            headers={"Retry-After": "1"},
            service=service,
        )
    if isinstance(exc, ReadTimeout):
        return UpstreamTimeout(f"The {service} service did not answer in time.", service=service)
    return BadGateway(f"The {service} service sent no valid response.", service=service)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    pool: Pool,
    prefix: bytes,
    service: str,
    headers: list[tuple[bytes, bytes]],
    content_length: int | None,
    chunked: bool,
    limit: int,
    request_id: bytes,
) -> int:
    """Proxy one request; returns the status sent. Raises a DomainError before the response
    starts (the caller renders it as problem+json)."""
    method: str = scope["method"]
    target = prefix + scope["raw_path"]
    if query := scope.get("query_string"):
        target += b"?" + query
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.", limit=limit)
    reader = BodyReader(receive, limit)
    body: bytes | AsyncIterator[bytes] | None = None
    if chunked:
        body, framing = reader.stream(), b"transfer-encoding: chunked\r\n"
    elif content_length and content_length > BUFFER_BODY_BYTES:
        body, framing = reader.stream(), b"content-length: %d\r\n" % content_length
    elif content_length:
        body = await reader.whole()
        framing = b"content-length: %d\r\n" % len(body)
    else:
        reader.done = True
        framing = b"content-length: 0\r\n" if method in _WITH_BODY else b""
    lines = [b"%b %b HTTP/1.1\r\nhost: %b\r\n" % (method.encode(), target, pool.host_header)]
    lines += [b"%b: %b\r\n" % header for header in headers]
    lines.append(framing + b"\r\n")
    try:
        upstream = await pool.request(method, b"".join(lines), body, chunked)
    except UpstreamError as exc:
        if reader.failure is not None:
            raise reader.failure from exc
        raise _error(exc, service) from exc
    try:
        status = upstream.status
        relayed, route, length = relayed_headers(upstream.headers, request_id)
        scope[ROUTE] = route.decode("latin-1") if route else None
        start = {"type": "http.response.start", "status": status, "headers": relayed}
        if method == "HEAD" or status in (204, 304):
            await send(start)
            await send({"type": "http.response.body", "body": b""})
        elif length is not None and length <= BUFFER_RESPONSE_BYTES:
            try:  # read before starting: a broken response is still a 502/504 problem
                content = await upstream.read()
            except UpstreamError as exc:
                raise _error(exc, service) from exc
            await send(start)
            await send({"type": "http.response.body", "body": content})
        else:
            await send(start)
            await _stream(upstream, receive, send, watch=reader.done, service=service)
        return status
    finally:
        upstream.finish()


async def _stream(
    upstream: Connection, receive: Receive, send: Send, *, watch: bool, service: str
) -> None:
    async def relay() -> None:
        try:
            while (chunk := await upstream.next_chunk()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            # The status line is already sent: all that is left is to cut the connection.
            log.warning("upstream response broke", service=service, error=type(exc).__name__)
            upstream.close()
            raise
        await send({"type": "http.response.body", "body": b""})

    if not watch:  # the request body is still streaming: receive() is not ours to watch
        await relay()
        return
    relaying = asyncio.ensure_future(relay())
    watching = asyncio.ensure_future(_until_disconnect(receive))
    try:
        await asyncio.wait((relaying, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not relaying.done():  # the client went away (or we are cancelled): stop reading
            relaying.cancel()
            upstream.close()
        watching.cancel()
        await asyncio.gather(relaying, watching, return_exceptions=True)
    if not relaying.cancelled() and (failure := relaying.exception()) is not None:
        raise failure
