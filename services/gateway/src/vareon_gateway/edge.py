"""The edge: a raw ASGI app in front of FastAPI. Proxied routes are handled here without
Request/Response objects, routers or middleware stacks; the gateway's own routes, WebSockets
and unknown paths go on to the FastAPI app, with the edge's request id already in place."""

from __future__ import annotations

import gc
import json
import os
import re
import time
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send
from vareon_chassis.api_keys import hash_api_key, looks_like_api_key
from vareon_chassis.auth import Principal
from vareon_chassis.context import request_id_var
from vareon_chassis.errors import PROBLEM_JSON, DomainError, Forbidden, Unauthorized
from vareon_chassis.observability import HTTP_LATENCY, HTTP_REQUESTS
from vareon_chassis.openai_errors import openai_error

from vareon_gateway import upstreams
from vareon_gateway.cors import Cors
from vareon_gateway.errors import DeviceCredentialRequired
from vareon_gateway.metrics import UPSTREAM_ERRORS
from vareon_gateway.openapi import ApiDocument
from vareon_gateway.proxy import ROUTE, forward, request_headers
from vareon_gateway.ratelimit import EdgeLimiter
from vareon_gateway.settings import GatewaySettings
from vareon_gateway.tokens import VerifiedTokens
from vareon_gateway.upstream_pool import Pool

log = structlog.get_logger(__name__)
SYSTEM_READ = "system:read"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CLIENT_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def new_request_id() -> str:
    return os.urandom(16).hex()


def client_request_id(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1")
    return text if _CLIENT_REQUEST_ID.match(text) else None


def with_request_id(scope: Scope, request_id: str) -> Scope:
    """The scope for the app behind the edge: the edge's id as X-Request-ID (which the
    chassis middleware then adopts), the client's own only as X-Client-Request-ID."""
    headers = []
    client_id = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            client_id = client_request_id(value)
        elif key != b"x-client-request-id":
            headers.append((key, value))
    headers.append((b"x-request-id", request_id.encode()))
    if client_id:
        headers.append((b"x-client-request-id", client_id.encode()))
    return {**scope, "headers": headers}


def _device_credential(authorization: bytes | None) -> None:
    scheme, _, credential = (authorization or b"").decode("latin-1").partition(" ")
    if scheme.lower() != "device" or not credential.strip():
        raise DeviceCredentialRequired(
            "a device credential is required (Authorization: Device <credential>)",
            headers={"WWW-Authenticate": "Device"},
        )


def _api_key(authorization: bytes | None) -> str | None:
    """An API key sent as a bearer (not a JWT): the edge lets it through, arcana checks it
    against its replica of identity's keys (docs/architecture.md D30)."""
    scheme, _, credential = (authorization or b"").decode("latin-1").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and looks_like_api_key(credential):
        return credential
    return None


def _requests_method(scope: Scope) -> bool:
    return any(k == b"access-control-request-method" for k, _ in scope["headers"])


async def send_problem(
    send: Send,
    exc: DomainError,
    *,
    instance: str,
    request_id: str,
    extra_headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    openai: bool = False,
) -> None:
    body = {
        "type": exc.type,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "instance": instance,
        "request_id": request_id,
        **exc.extensions,
    }
    content_type = PROBLEM_JSON
    status = exc.status
    if openai:
        status, body = openai_error(body)
        content_type = "application/json"
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", request_id.encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _freezing_after_startup(send: Send) -> Send:
    """Once started, every object built so far (modules, the app, settings: most of the
    heap) leaves the collector's view (``gc.freeze``): collections triggered by the
    requests' short-lived allocations then scan only what the requests made."""

    async def sending(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            gc.collect()
            gc.freeze()
        await send(message)

    return sending


class Edge:
    def __init__(self, app: FastAPI, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings
        self.pools: dict[str, tuple[Pool, bytes]] = {}
        self.tokens: VerifiedTokens | None = None
        self.upload_prefixes = tuple(p.rstrip("/") for p in settings.upload_prefixes)
        self.cors = Cors(settings)
        self.limiter = EdgeLimiter(settings) if settings.rate_limit_enabled else None
        self.documents = ApiDocument(settings.openapi_refresh_s, settings.status_timeout_s)
        self._metrics: dict[tuple[str, str, int, str | None], tuple[Any, Any]] = {}
        self.freeze_after_startup = False
        """Set by the server (``vareon_gateway.serving.create_app``), not in tests, which
        start many apps in one process."""

    @property
    def state(self) -> Any:  # so tests and tools can reach app.state through the edge
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            if self.freeze_after_startup:
                send = _freezing_after_startup(send)
            await self.app(scope, receive, send)
            return
        if kind == "http":
            origin = requested = None
            for key, value in scope["headers"]:
                if key == b"origin":
                    origin = value
                elif key == b"access-control-request-headers":
                    requested = value
            if origin is not None:
                if scope["method"] == "OPTIONS" and _requests_method(scope):
                    await self.cors.preflight(send, origin, requested)
                    return
                send = self.cors.wrap(send, origin)
        request_id = new_request_id()
        route = upstreams.resolve(scope["path"]) if kind == "http" else None
        if route is None and scope["path"] == "/openapi.json" and kind == "http":
            await self._api_document(send, request_id)
            return
        if route is None:
            if scope["path"] == "/metrics" and kind == "http":
                try:  # what the gateway measures is for operators (system:read) only
                    await self._operator(scope)
                except DomainError as exc:
                    await send_problem(send, exc, instance="/metrics", request_id=request_id)
                    return
            await self.app(with_request_id(scope, request_id), receive, send)
            return
        client_id = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                client_id = client_request_id(value)
        token = request_id_var.set(request_id)
        if client_id:
            structlog.contextvars.bind_contextvars(client_request_id=client_id)
        started = time.perf_counter()
        status = 500
        try:
            status = await self._proxy(scope, receive, send, route, request_id, client_id)
        finally:
            seconds = time.perf_counter() - started
            self._observe(route.service, scope["method"], status, seconds, scope.get(ROUTE))
            if client_id:
                structlog.contextvars.unbind_contextvars("client_request_id")
            request_id_var.reset(token)

    async def _proxy(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: upstreams.Route,
        request_id: str,
        client_id: str | None,
    ) -> int:
        authorization = content_length = None
        chunked = False
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value
            elif key == b"content-length":
                content_length = value
            elif key == b"transfer-encoding":
                chunked = True
        try:
            who = None
            api_key = _api_key(authorization) if route.openai else None
            if route.device:
                _device_credential(authorization)
            elif not route.public and api_key is None and scope["method"] != "OPTIONS":
                who = (await self._authenticate(authorization))[1]
            if self.limiter is not None:
                if api_key is not None:
                    who = f"key:{hash_api_key(api_key)[:32]}"
                elif who is None:
                    who = f"ip:{self._client_ip(scope)}"
                await self.limiter.check(scope["path"], route.public, who)
            try:
                length = int(content_length) if content_length is not None else None
            except ValueError:
                length = None
            pool, prefix = self.pools[route.service]
            return await forward(
                scope,
                receive,
                send,
                pool=pool,
                prefix=prefix,
                service=route.service,
                headers=request_headers(scope, self.settings, request_id, client_id),
                content_length=length,
                chunked=chunked,
                limit=self._limit(scope["path"]),
                request_id=request_id.encode(),
            )
        except DomainError as exc:
            if exc.status >= 500:
                UPSTREAM_ERRORS.labels(route.service, exc.type.rsplit("/", 1)[-1]).inc()
                log.warning("proxy refused", service=route.service, problem=exc.type)
            await send_problem(
                send, exc, instance=scope["path"], request_id=request_id, openai=route.openai
            )
            return exc.status

    async def _api_document(self, send: Send, request_id: str) -> None:
        state = self.app.state
        body = await self.documents.get(
            state.upstream, self.settings.upstreams(), self.app.openapi()
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _limit(self, path: str) -> int:
        for prefix in self.upload_prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return self.settings.upload_body_bytes
        return self.settings.max_body_bytes

    async def _operator(self, scope: Scope) -> None:
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        principal, _ = await self._authenticate(authorization)
        if not principal.has(SYSTEM_READ):
            raise Forbidden(f"missing permission {SYSTEM_READ!r}")

    def _client_ip(self, scope: Scope) -> str:
        if self.settings.trust_forwarded_headers:
            for key, value in scope["headers"]:
                if key == b"x-forwarded-for":  # the last hop is the one our proxy added
                    return value.decode("latin-1").rsplit(",", 1)[-1].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"

    async def _authenticate(self, authorization: bytes | None) -> tuple[Principal, str]:
        if authorization is None:
            raise Unauthorized("bearer token required")
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("bearer token required")
        assert self.tokens is not None
        return await self.tokens.verify_keyed(token)

    def _observe(
        self, service: str, method: str, status: int, seconds: float, template: str | None
    ) -> None:
        """Labelled by the service's route template (``proxy:<service>`` when the edge
        answered itself): a bounded set, never raw paths."""
        if method not in _METHODS:
            method = "OTHER"
        key = (service, method, status, template)
        metrics = self._metrics.get(key)
        if metrics is None:
            route = template or f"proxy:{service}"
            metrics = (
                HTTP_REQUESTS.labels("gateway", method, route, str(status)),
                HTTP_LATENCY.labels("gateway", method, route),
            )
            self._metrics[key] = metrics
        metrics[0].inc()
        metrics[1].observe(seconds)
