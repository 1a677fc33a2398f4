"""CORS at the edge. Development allows any ``http://localhost:<port>`` and
``http://127.0.0.1:<port>`` page (without credentials); every environment allows the origins
listed in ``GATEWAY_CORS_ORIGINS``, and only those with credentials. Preflights are answered
here and never reach a service."""

from __future__ import annotations

import re

from starlette.types import Message, Send

from vareon_gateway.settings import GatewaySettings

_DEV_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$")
ALLOW_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSE = b"x-request-id, retry-after, ratelimit, ratelimit-policy, www-authenticate, location"
MAX_AGE = b"600"


class Cors:
    def __init__(self, settings: GatewaySettings) -> None:
        self.listed = frozenset(o.rstrip("/") for o in settings.cors_origins)
        self.development = settings.environment == "development"

    def allowed(self, origin: str) -> tuple[bool, bool]:
        """(allowed, with credentials)"""
        if origin in self.listed:
            return True, True
        return (self.development and bool(_DEV_ORIGIN.match(origin))), False

    def headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        allowed, credentials = self.allowed(origin.decode("latin-1"))
        if not allowed:
            return [(b"vary", b"origin")]
        out = [
            (b"access-control-allow-origin", origin),
            (b"vary", b"origin"),
            (b"access-control-expose-headers", EXPOSE),
        ]
        if credentials:
            out.append((b"access-control-allow-credentials", b"true"))
        return out

    async def preflight(self, send: Send, origin: bytes, requested: bytes | None) -> None:
        headers = self.headers(origin)
        if len(headers) > 1:
            headers += [
                (b"access-control-allow-methods", ALLOW_METHODS),
                (b"access-control-max-age", MAX_AGE),
            ]
            if requested:
                headers.append((b"access-control-allow-headers", requested))
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def wrap(self, send: Send, origin: bytes) -> Send:
        extra = self.headers(origin)

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return with_cors
