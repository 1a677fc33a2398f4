"""Errors on OpenAI-compatible paths (``/v1/...``) in OpenAI's shape, our problem inside.

OpenAI clients read ``{"error": {"message", "type", "code", "param"}}`` and pick their
exception from the status; a problem+json body would reach them as an unreadable error. The
problem the platform raised stays whole under ``error.problem`` (type, title, status, request
id, extensions), so nothing is lost for a client that knows Vareon. Validation failures are
400 there, as OpenAI answers them (the SDK's ``BadRequestError``), not 422.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPENAI_PREFIX = "/v1"
_BY_STATUS = {
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    429: ("requests", "rate_limit_exceeded"),
}


def is_openai_path(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def _param(problem: dict[str, Any]) -> str | None:
    errors = problem.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    loc = [str(p) for p in errors[0].get("loc", []) if p not in ("body", "query", "path")]
    return ".".join(loc) or None


def openai_error(problem: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, body) for a problem as an OpenAI client expects it."""
    status = int(problem.get("status") or 500)
    slug = str(problem.get("type", "")).rsplit("/", 1)[-1].replace("-", "_") or "error"
    if status == 422:
        status = 400
    if status in _BY_STATUS:
        kind, code = _BY_STATUS[status]
    elif status >= 500:
        kind, code = "server_error", slug
    elif status == 403:
        kind, code = "permission_error", slug
    else:
        kind, code = "invalid_request_error", slug
    detail = problem.get("detail") or problem.get("title") or "error"
    param = problem.get("param") or _param(problem)
    if problem.get("errors") and param:
        first = problem["errors"][0]
        detail = f"{detail} {param}: {first.get('msg', '')}".strip()
    error = {"message": detail, "type": kind, "code": code, "param": param}
    return status, {"error": {**error, "problem": problem}}


class OpenAIErrors:
    """ASGI middleware: problem+json answers on ``/v1`` paths become OpenAI error bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_openai_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                found = dict(message.get("headers", []))
                if found.get(b"content-type", b"").startswith(b"application/problem+json"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                status, body = openai_error(json.loads(b"".join(chunks) or b"{}"))
                payload = json.dumps(body).encode()
                headers = [
                    (k, v)
                    for k, v in start.get("headers", [])
                    if k not in (b"content-type", b"content-length")
                ]
                headers += [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
            await send(message)

        await self.app(scope, receive, rewrite)
