"""Reverse proxy: the request streamed to a service, its response streamed back unbuffered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import StreamingResponse
from vareon_chassis.context import request_id_var

from vareon_gateway.errors import (
    BadGateway,
    ClientClosedRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from vareon_gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SET_BY_GATEWAY = frozenset(
    {
        "host",
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    }
)
# uvicorn writes its own Date and Server; the service's copies would be duplicates.
_SET_BY_SERVER = frozenset({"date", "server"})


def _dropped(headers: list[tuple[bytes, bytes]], extra: frozenset[str]) -> frozenset[str]:
    named: set[str] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            named.update(t.strip().lower() for t in value.decode("latin-1").split(","))
    return HOP_BY_HOP | extra | frozenset(named)


def request_headers(request: Request, settings: GatewaySettings) -> list[tuple[bytes, bytes]]:
    raw = request.headers.raw
    drop = _dropped(raw, _SET_BY_GATEWAY)
    headers = [(k, v) for k, v in raw if k.decode("latin-1").lower() not in drop]
    client_ip = request.client.host if request.client else "unknown"
    previous = request.headers.get("x-forwarded-for") if settings.trust_forwarded_headers else None
    forwarded_for = f"{previous}, {client_ip}" if previous else client_ip
    proto = (
        request.headers.get("x-forwarded-proto") if settings.trust_forwarded_headers else None
    ) or request.url.scheme
    headers += [
        (b"x-forwarded-for", forwarded_for.encode("latin-1")),
        (b"x-forwarded-proto", proto.encode("latin-1")),
        (b"x-request-id", (request_id_var.get() or "").encode("latin-1")),
    ]
    if host := request.headers.get("host"):
        headers.append((b"x-forwarded-host", host.encode("latin-1")))
    return headers


def response_headers(upstream: httpx.Response) -> list[tuple[bytes, bytes]]:
    raw = upstream.headers.raw
    drop = _dropped(raw, _SET_BY_SERVER)
    return [(k.lower(), v) for k, v in raw if k.decode("latin-1").lower() not in drop]


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length != "0")


async def _request_body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect as exc:
        raise ClientClosedRequest("the client went away while sending the body") from exc


async def _relay(upstream: httpx.Response, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # The status line is already sent: all that is left is to cut the connection.
        log.warning("upstream response broke", service=service, error=type(exc).__name__)
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await upstream.aclose()


async def forward(
    request: Request, client: httpx.AsyncClient, service: str, settings: GatewaySettings
) -> StreamingResponse:
    path = request.scope.get("raw_path") or request.url.path.encode()
    url = settings.upstream_url(service) + path.decode("latin-1")
    if query := request.scope.get("query_string"):
        url += "?" + query.decode("latin-1")
    content = _request_body(request) if _has_body(request) else None
    outgoing = client.build_request(
        request.method, url, headers=request_headers(request, settings), content=content
    )
    try:
        upstream = await client.send(outgoing, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise UpstreamUnavailable(
            f"The {service} service is not reachable.",
            headers={"Retry-After": "1"},
            service=service,
        ) from exc
    except httpx.PoolTimeout as exc:
        raise UpstreamUnavailable(
            f"The gateway has no free connection to {service}.",
            headers={"Retry-After": "1"},
            service=service,
        ) from exc
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(
            f"The {service} service did not answer in time.", service=service
        ) from exc
    except httpx.HTTPError as exc:
        raise BadGateway(f"The {service} service sent no valid response.", service=service) from exc
    response = StreamingResponse(_relay(upstream, service), status_code=upstream.status_code)
    response.raw_headers = response_headers(upstream)
    return response
