"""Request body size limit for every service: a declared Content-Length over the limit is
refused before the app runs, a streamed (chunked) body as soon as it crosses it, so no body
is buffered whole before being judged. Routes that take large uploads on purpose are listed
as exempt and enforce their own limit (neosyntis's dataset upload)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vareon_chassis.context import request_id_var
from vareon_chassis.errors import PROBLEM_BASE, PROBLEM_JSON

DEFAULT_MAX_BODY_BYTES = 1_048_576


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, exempt: Sequence[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = tuple(p.rstrip("/") for p in exempt)

    def _exempt(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(scope, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI re-raises HTTPException from body parsing as it is; the
                    # chassis renders it as the payload-too-large problem.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"The request body is over the limit of {self.limit} bytes."

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": self._detail(),
                "instance": scope["path"],
                "request_id": request_id_var.get(),
                "limit": self.limit,
            }
        ).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the unread body must not be parsed as a request
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
