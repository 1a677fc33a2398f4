"""The one pooled HTTP client per process that carries every request to the services."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from vareon_gateway.settings import GatewaySettings


def _no_cookies() -> CookieJar:
    # A proxy shared by every user must never remember one user's cookies for the next.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def create_upstream_client(settings: GatewaySettings) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
        keepalive_expiry=settings.keepalive_expiry_s,
    )
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.read_timeout_s,
        write=settings.write_timeout_s,
        pool=settings.pool_timeout_s,
    )
    transport: httpx.AsyncBaseTransport
    if settings.upstream_transport == "aiohttp":

        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=settings.max_connections,
                limit_per_host=0,
                keepalive_timeout=settings.keepalive_expiry_s,
            )
            return aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
            )

        transport = AiohttpTransport(limits=limits, client=session)
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
    client = httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        cookies=_no_cookies(),
    )
    # httpx adds Accept, Accept-Encoding, User-Agent... by default; a proxy adds none of its own.
    for name in list(client.headers):
        del client.headers[name]
    return client
