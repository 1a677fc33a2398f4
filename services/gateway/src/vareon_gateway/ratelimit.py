"""Rate limits at the edge with the ``limits`` library: per client IP on public paths, per
user (the token's ``sub``) on authenticated ones, in route classes with their own limits.

Storage is in memory (per process) by default, Redis when GATEWAY_RATE_LIMIT_STORAGE is a
``redis://`` (or ``redis+unix://``) URL, shared by every gateway process. If Redis fails the
edge lets the request through and logs it: the limiter protects the services, it must not
become the outage. Refusals are 429 problem+json with ``Retry-After`` and the IETF httpapi
draft's ``RateLimit-Policy`` / ``RateLimit`` headers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from limits.storage import storage_from_string
from vareon_chassis.errors import PROBLEM_BASE, DomainError

from vareon_gateway.metrics import RATE_LIMITED
from vareon_gateway.settings import GatewaySettings
from vareon_gateway.upstreams import API

log = structlog.get_logger(__name__)
STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
    "moving-window": MovingWindowRateLimiter,
}
AI_PREFIXES = (f"{API}/arcana/chat", f"{API}/arcana/ai", "/v1/chat")


class TooManyRequests(DomainError):
    type = PROBLEM_BASE + "too-many-requests"
    title = "Too many requests"
    status = 429


_CLASSES: dict[tuple[str, bool], str] = {}


def route_class(path: str, public: bool) -> str:
    """Memoised (bounded: paths carry ids, so the memo is cleared when full)."""
    found = _CLASSES.get((path, public))
    if found is None:
        if len(_CLASSES) >= 4096:
            _CLASSES.clear()
        found = _CLASSES[(path, public)] = _route_class(path, public)
    return found


def _route_class(path: str, public: bool) -> str:
    if public and path.startswith(f"{API}/auth/"):
        return "auth"
    if any(path == p or path.startswith(p + "/") for p in AI_PREFIXES) or (
        path.startswith(f"{API}/arcana/sessions/") and path.rstrip("/").endswith("/messages")
    ):
        return "ai"
    return "default"


def storage_uri(uri: str) -> str:
    return uri if uri.startswith("async+") else "async+" + uri


@dataclass(frozen=True)
class Policy:
    name: str
    items: tuple[RateLimitItem, ...]


class EdgeLimiter:
    def __init__(self, settings: GatewaySettings) -> None:
        options: dict[str, float | str | bool] = {"wrap_exceptions": True}
        if settings.rate_limit_storage.startswith(("redis", "async+redis")):
            options["implementation"] = "redispy"
        self.storage = storage_from_string(storage_uri(settings.rate_limit_storage), **options)
        self.limiter = STRATEGIES[settings.rate_limit_strategy](self.storage)
        self.policies = {
            name: Policy(name, tuple(parse_many(spec)))
            for name, spec in (
                ("auth", settings.rate_limit_auth),
                ("ai", settings.rate_limit_ai),
                ("default", settings.rate_limit_default),
            )
        }

    async def check(self, path: str, public: bool, who: str) -> None:
        """Count one request for ``who`` (``ip:...`` or ``user:...``); raise 429 when over."""
        policy = self.policies[route_class(path, public)]
        for item in policy.items:
            try:
                allowed = await self.limiter.hit(item, policy.name, who)
                if allowed:
                    continue
                stats = await self.limiter.get_window_stats(item, policy.name, who)
            except StorageError as exc:
                log.warning("rate limit storage failed; letting through", error=str(exc))
                return
            RATE_LIMITED.labels(policy.name).inc()
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            window = item.get_expiry()
            raise TooManyRequests(
                f"Over the {policy.name} limit of {item}; try again in {retry_after} s.",
                headers={
                    "Retry-After": str(retry_after),
                    "RateLimit-Policy": f'"{policy.name}";q={item.amount};w={window}',
                    "RateLimit": f'"{policy.name}";r={stats.remaining};t={retry_after}',
                },
                limit=str(item),
            )
