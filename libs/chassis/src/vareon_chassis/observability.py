"""Structured JSON logs, request ids and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vareon_chassis.context import request_id_var
from vareon_chassis.errors import internal_error
from vareon_chassis.telemetry import add_trace_ids

log = structlog.get_logger(__name__)
REQUEST_ID_HEADER = "x-request-id"
ROUTE_HEADER = b"x-vareon-route"
"""The route template that answered (public in the OpenAPI anyway): the gateway labels its
latency with it instead of raw paths, and does not pass it on."""
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_UNLOGGED = frozenset({"/health/live", "/health/ready", "/metrics"})
"""Probes and scrapes, every few seconds each: counted, never a log line."""
HTTP_REQUESTS = Counter(
    "vareon_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "vareon_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)


LOG_FORMAT_ENV = "VAREON_LOG_FORMAT"
"""``json`` (containers: one JSON object a line) or ``console`` (``make up``: readable
``key=value``); overrides the service's ``log_json`` setting when set."""


def log_as_json(default: bool) -> bool:
    chosen = os.environ.get(LOG_FORMAT_ENV, "").strip().lower()
    if chosen in ("console", "text", "kv", "logfmt"):
        return False
    if chosen == "json":
        return True
    return default


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if log_as_json(json)
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


class _StderrLogger:
    """Writes each line to the ``sys.stderr`` of the moment: a stream bound at configuration
    goes stale when it is swapped (test output capture closes its own), and a log line must
    never fail the request it describes."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _stderr_logger(*_: object) -> _StderrLogger:
    return _STDERR


_STDERR = _StderrLogger()


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane), echoes it, times it."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = HTTPConnection(scope).headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [
                    *(h for h in message["headers"] if h[0].lower() != b"x-request-id"),
                    (b"x-request-id", request_id.encode()),
                ]
                if (route := scope.get("route")) is not None:
                    message["headers"].append((ROUTE_HEADER, route.path.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Here, not in Starlette's outermost handler, the request id is still bound.
            log.exception("unhandled error", path=scope.get("path"))
            if responded or scope["type"] != "http":
                raise
            await internal_error(scope.get("path"))(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope.get("method", "WS")
            seconds = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, path).observe(seconds)
            if path not in _UNLOGGED:
                # the route template, never the raw path or query (they may carry tokens)
                log.info(
                    "request",
                    method=method,
                    route=path,
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id", "user_id")
            request_id_var.reset(token)


def bind_user(user_id: object) -> None:
    """The authenticated caller's id on every later log line of this request (never more
    than the id: no token, no email)."""
    structlog.contextvars.bind_contextvars(user_id=str(user_id))


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
