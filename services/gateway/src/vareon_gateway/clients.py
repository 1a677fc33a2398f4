"""The pooled HTTP clients per process: ``upstream_pool`` for proxied requests (the hot path),
httpx for the gateway's own calls to the services (status fan-out, API documents)."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx

from vareon_gateway.settings import SERVICES, GatewaySettings
from vareon_gateway.upstream_pool import Pool


def create_pools(settings: GatewaySettings) -> dict[str, tuple[Pool, bytes]]:
    """Per service: the pool of its origin (services on one origin share it) and the path
    prefix of its base URL. Called on the serving loop (lifespan start-up)."""
    pools: dict[str, Pool] = {}
    out: dict[str, tuple[Pool, bytes]] = {}
    for service in SERVICES:
        parts = urlsplit(settings.upstream_url(service))
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in pools:
            pools[origin] = Pool(
                origin,
                limit=settings.max_connections,
                connect_timeout=settings.connect_timeout_s,
                pool_timeout=settings.pool_timeout_s,
                read_timeout=settings.read_timeout_s,
                keepalive_s=settings.keepalive_expiry_s,
            )
        out[service] = (pools[origin], parts.path.rstrip("/").encode())
    return out


def _no_cookies() -> CookieJar:
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def create_upstream_client(settings: GatewaySettings) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.status_timeout_s, connect=settings.connect_timeout_s),
        follow_redirects=False,
        trust_env=False,
        cookies=_no_cookies(),
    )
    for name in list(client.headers):
        del client.headers[name]
    return client
