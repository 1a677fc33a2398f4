"""Reverse proxy on raw ASGI: the request streamed to a service over one pooled aiohttp
session, its response streamed back unbuffered. No Request/Response objects on this path:
that is where a FastAPI catch-all spent ~1.2 ms of CPU per request (docs/gateway.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
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
    b"content-length",  # aiohttp writes it from the body it sends
}
# uvicorn writes its own Date and Server; the service's copies would be duplicates.
_SET_BY_SERVER = HOP_BY_HOP | {b"date", b"server", b"x-request-id", ROUTE_HEADER}
BUFFER_BODY_BYTES = 65_536
"""Request bodies up to this size (by Content-Length) are read whole and sent in one write;
larger or chunked ones are streamed."""
BUFFER_RESPONSE_BYTES = 1_048_576


def _named_by_connection(headers: Any) -> frozenset[bytes]:
    named: set[bytes] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b","))
    return frozenset(named)


def request_headers(
    scope: Scope, settings: GatewaySettings, request_id: str, client_request_id: str | None
) -> list[tuple[str, str]]:
    """What goes upstream: the client's headers less hop-by-hop ones, plus the edge's own."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    drop = _SET_BY_GATEWAY
    host = previous_for = previous_proto = None
    out: list[tuple[str, str]] = []
    for key, value in raw:
        if key in drop:
            if key == b"host":
                host = value
            elif key == b"x-forwarded-for":
                previous_for = value
            elif key == b"x-forwarded-proto":
                previous_proto = value
            elif key == b"connection":
                drop = drop | _named_by_connection(raw)
                out = [(k, v) for k, v in out if k.encode("latin-1") not in drop]
            continue
        if key not in drop:
            out.append((key.decode("latin-1"), value.decode("latin-1")))
    client = scope.get("client")
    client_ip = client[0] if client else "unknown"
    trust = settings.trust_forwarded_headers
    forwarded_for = (
        f"{previous_for.decode('latin-1')}, {client_ip}" if trust and previous_for else client_ip
    )
    proto = (
        previous_proto.decode("latin-1")
        if trust and previous_proto
        else scope.get("scheme", "http")
    )
    out.append(("x-forwarded-for", forwarded_for))
    out.append(("x-forwarded-proto", proto))
    out.append(("x-request-id", request_id))
    if client_request_id:
        out.append(("x-client-request-id", client_request_id))
    if host:
        out.append(("x-forwarded-host", host.decode("latin-1")))
    return out


def response_headers(raw: Any, request_id: bytes) -> list[tuple[bytes, bytes]]:
    drop = _SET_BY_SERVER
    out: list[tuple[bytes, bytes]] = []
    for key, value in raw:
        low = key.lower()
        if low in drop:
            if low == b"connection":
                drop = drop | _named_by_connection(raw)
                out = [(k, v) for k, v in out if k not in drop]
            continue
        if low not in drop:
            out.append((low, value))
    out.append((b"x-request-id", request_id))
    return out


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


def _error(exc: BaseException, service: str) -> Exception:
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return UpstreamUnavailable(
            f"The {service} service is not reachable.",
            headers={"Retry-After": "1"},
            service=service,
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        # Accepted, then closed without a status line: a service shedding load or
        # restarting. Nothing was processed that a client could see, so: try again.
        return UpstreamUnavailable(
            f"The {service} service closed the connection without answering.",
            headers={"Retry-After": "1"},
            service=service,
        )
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"The {service} service did not answer in time.", service=service)
    return BadGateway(f"The {service} service sent no valid response.", service=service)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    session: aiohttp.ClientSession,
    base_url: str,
    service: str,
    headers: list[tuple[str, str]],
    content_length: int | None,
    chunked: bool,
    limit: int,
    request_id: bytes,
) -> int:
    """Proxy one request; returns the status sent. Raises a DomainError before the response
    starts (the caller renders it as problem+json)."""
    url = base_url + scope["raw_path"].decode("latin-1")
    if query := scope.get("query_string"):
        url += "?" + query.decode("latin-1")
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.", limit=limit)
    reader = BodyReader(receive, limit)
    data: bytes | AsyncIterator[bytes] | None = None
    if chunked or (content_length and content_length > BUFFER_BODY_BYTES):
        data = reader.stream()
    elif content_length:
        data = await reader.whole()
    else:
        reader.done = True
    try:
        upstream = await session.request(
            scope["method"], url, headers=headers, data=data, allow_redirects=False
        )
    except Exception as exc:
        if reader.failure is not None:
            raise reader.failure from exc
        raise _error(exc, service) from exc
    except asyncio.CancelledError:
        raise
    try:
        status = upstream.status
        scope[ROUTE] = upstream.headers.get("x-vareon-route")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": response_headers(upstream.raw_headers, request_id),
            }
        )
        length = upstream.content_length
        if scope["method"] == "HEAD" or status in (204, 304):
            await send({"type": "http.response.body", "body": b""})
        elif length is not None and length <= BUFFER_RESPONSE_BYTES:
            await send({"type": "http.response.body", "body": await upstream.read()})
        else:
            await _stream(upstream, receive, send, watch=reader.done, service=service)
        return status
    finally:
        upstream.release()


async def _stream(
    upstream: aiohttp.ClientResponse, receive: Receive, send: Send, *, watch: bool, service: str
) -> None:
    async def relay() -> None:
        try:
            async for chunk in upstream.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:
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
