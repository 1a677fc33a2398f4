"""RFC 9457 problem details: domain errors carry their type and status; one handler renders."""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from vareon_chassis.context import request_id_var

PROBLEM_BASE = "https://vareon.dev/problems/"
PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class DomainError(Exception):
    """A failure a client can cause; subclasses name the problem type and status."""

    type: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Error"
    status: ClassVar[int] = 400

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extensions = extensions


class NotFound(DomainError):
    type = PROBLEM_BASE + "not-found"
    title = "Not found"
    status = 404


class Conflict(DomainError):
    type = PROBLEM_BASE + "conflict"
    title = "Conflict"
    status = 409


class Unauthorized(DomainError):
    type = PROBLEM_BASE + "unauthorized"
    title = "Unauthorized"
    status = 401

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extensions)


class Forbidden(DomainError):
    type = PROBLEM_BASE + "forbidden"
    title = "Forbidden"
    status = 403


class InvalidCursor(DomainError):
    type = PROBLEM_BASE + "invalid-cursor"
    title = "Invalid cursor"
    status = 422


class ServiceUnavailable(DomainError):
    type = PROBLEM_BASE + "service-unavailable"
    title = "Service unavailable"
    status = 503


class Overloaded(ServiceUnavailable):
    """Busy, not broken: shed with 503 and Retry-After (argon2 queues, a full pool)."""

    type = PROBLEM_BASE + "overloaded"
    title = "Busy: retry shortly"

    def __init__(self, detail: str, retry_after_s: int = 2) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


_HTTP_TYPES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def problem(
    status: int,
    type_: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body["request_id"] = request_id_var.get()
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(
        exc.status,
        exc.type,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem(
        422,
        PROBLEM_BASE + "validation-error",
        "Request validation failed",
        "The request is not valid; see errors.",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
    return problem(
        exc.status_code,
        PROBLEM_BASE + slug,
        title,
        str(exc.detail),
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


def internal_error(path: str | None) -> JSONResponse:
    return problem(
        500,
        PROBLEM_BASE + "internal-error",
        "Internal error",
        "An unexpected error occurred; quote the request id when reporting it.",
        instance=path,
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """No pooled connection in time, or the database away: a 503 to retry, never a 500."""
    busy = isinstance(exc, sa_exc.TimeoutError)
    log.warning("database unavailable", path=request.url.path, error=repr(exc)[:300])
    return problem(
        503,
        Overloaded.type if busy else PROBLEM_BASE + "database-unavailable",
        Overloaded.title if busy else "Database unavailable",
        "no database connection free in time; retry shortly"
        if busy
        else "the database cannot be reached; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": "2"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Apps without RequestContextMiddleware (which answers a 500 itself, request id bound)."""
    log.exception("unhandled error", path=request.url.path)
    return internal_error(request.url.path)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem; more members may follow (`errors`, limits, ids).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
_WHY = {
    400: "The body could not be read as the declared media type",
    401: "No valid bearer token",
    403: "The caller may not do this",
    404: "What the path names does not exist (or is not the caller's)",
    422: "The request is not valid (`errors` names each field)",
}


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem: ``responses={409: problem_response("...")}``."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


def document_problems(app: FastAPI) -> None:
    """Declare in the OpenAPI the problems every operation can answer, from its shape: 422
    where it takes input, 401/403 where it needs a token, 404 where its path names a thing.
    Anything else a route answers it declares itself (``responses=`` with problem_response)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for item in doc.get("paths", {}).values():
            for operation in item.values():
                params = operation.get("parameters", [])
                codes = set()
                if params or "requestBody" in operation:
                    codes.add(422)
                if "requestBody" in operation:
                    codes.add(400)
                if operation.get("security"):
                    codes |= {401, 403}
                if any(p.get("in") == "path" for p in params):
                    codes.add(404)
                responses = operation.setdefault("responses", {})
                for code in sorted(codes):
                    documented = responses.get(str(code), {})
                    if code == 422 or not documented.get("content"):
                        why = _WHY[code] if code == 422 else documented.get("description")
                        responses[str(code)] = problem_response(why or _WHY[code])
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (sa_exc.TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
