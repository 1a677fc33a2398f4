"""The pooled HTTP clients per process: aiohttp for proxied requests (the hot path), httpx for
the gateway's own calls to the services (status fan-out, API documents)."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx

from vareon_gateway.settings import GatewaySettings


def create_proxy_session(settings: GatewaySettings) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=settings.max_connections,
        limit_per_host=0,
        keepalive_timeout=settings.keepalive_expiry_s,
        ttl_dns_cache=300,
    )
    timeout = aiohttp.ClientTimeout(
        total=None,
        # waiting for a pooled connection plus opening one: ConnectionTimeoutError -> 503
        connect=settings.pool_timeout_s + settings.connect_timeout_s,
        sock_connect=settings.connect_timeout_s,
        # per read, so a slow server-sent-event stream stays open between events
        sock_read=settings.read_timeout_s,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        # A proxy shared by every user must never remember one user's cookies for the next.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Relay bytes as they are (Content-Encoding/Content-Length stay valid) and add no
        # headers of our own.
        auto_decompress=False,
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        raise_for_status=False,
    )


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
