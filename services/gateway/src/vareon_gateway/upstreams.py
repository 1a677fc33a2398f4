"""Which service owns a public path, and whether the edge may let it through without a token."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vareon_chassis.openai_errors import is_openai_path

API = "/api/v1"

# (path prefix, owning service), matched on whole segments: "/api/v1/wallet" owns
# "/api/v1/wallet" and "/api/v1/wallet/...", never "/api/v1/walletx".
OWNERS: tuple[tuple[str, str], ...] = (
    (f"{API}/auth", "identity"),
    (f"{API}/users", "identity"),
    ("/.well-known", "identity"),
    (f"{API}/wallet", "wallet"),
    (f"{API}/arcana", "arcana"),
    (f"{API}/cognisys", "cognisys"),
    (f"{API}/myntrix", "myntrix"),
    (f"{API}/neosyntis", "neosyntis"),
    ("/v1", "arcana"),  # the OpenAI-compatible API (docs/openai-api.md)
)

# Ways in for someone who has no token yet (or is refreshing one), the keys that verify
# tokens, and the anonymous chat demo. Everything else needs a bearer token at the edge.
PUBLIC_PATHS = frozenset(
    {
        f"{API}/auth/register",
        f"{API}/auth/login",
        f"{API}/auth/token",
        f"{API}/auth/refresh",
        f"{API}/auth/google",
        f"{API}/auth/verify-email",
        f"{API}/auth/resend-verification",
        f"{API}/arcana/chat/demo",
    }
)
PUBLIC_PREFIXES = ("/.well-known",)
# Devices authenticate with their own credential (``Authorization: Device <credential>``),
# which only myntrix can check: the edge asks for that scheme and lets the service judge it.
DEVICE_PATHS = re.compile(rf"^{API}/myntrix/hardware/[^/]+/heartbeat$")

WEBSOCKET_PREFIXES = (f"{API}/arcana/ws",)


@dataclass(frozen=True)
class Route:
    service: str
    public: bool
    device: bool = False
    openai: bool = False
    """An OpenAI-compatible path: errors in OpenAI's shape, and an API key may stand in for a
    token (arcana checks it)."""


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


_RESOLVED: dict[str, Route | None] = {}
_RESOLVED_MAX = 4096


def resolve(path: str) -> Route | None:
    """The route for a decoded request path, or None when no service owns it (memoised:
    the edge asks for every request)."""
    try:
        return _RESOLVED[path]
    except KeyError:
        pass
    route = _resolve(path)
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.clear()
    _RESOLVED[path] = route
    return route


def _resolve(path: str) -> Route | None:
    segments = path.split("/")
    if not path.startswith("/") or any(s in (".", "..") for s in segments):
        return None
    normalized = path.rstrip("/") or "/"
    for prefix, service in OWNERS:
        if _under(normalized, prefix):
            public = normalized in PUBLIC_PATHS or any(
                _under(normalized, p) for p in PUBLIC_PREFIXES
            )
            if DEVICE_PATHS.match(normalized):
                return Route(service, public=False, device=True)
            return Route(service, public, openai=is_openai_path(normalized))
    return None


def is_websocket_path(path: str) -> bool:
    return any(_under(path, prefix) for prefix in WEBSOCKET_PREFIXES)
