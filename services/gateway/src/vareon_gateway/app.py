"""create_app: the gateway is a raw ASGI edge in front of a stateless chassis service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import create_service
from vareon_chassis.settings import load_settings

from vareon_gateway import api
from vareon_gateway.clients import create_pools, create_upstream_client
from vareon_gateway.edge import Edge
from vareon_gateway.settings import GatewaySettings
from vareon_gateway.status import CachedStatus
from vareon_gateway.tokens import VerifiedTokens
from vareon_gateway.tracing import create_edge


def create_app(
    settings: GatewaySettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> Edge:
    settings = settings or load_settings(GatewaySettings)
    edge: Edge

    @contextlib.asynccontextmanager
    async def upstream(app: FastAPI) -> AsyncIterator[None]:
        app.state.upstream = create_upstream_client(settings)
        app.state.status_cache = CachedStatus(settings.status_cache_s)
        edge.pools = create_pools(settings)
        edge.tokens = VerifiedTokens(
            app.state.token_verifier,
            ttl_s=settings.token_cache_ttl_s,
            size=settings.token_cache_size,
        )
        try:
            yield
        finally:
            for pool, _ in edge.pools.values():
                pool.close()
            await app.state.upstream.aclose()

    app = create_service(
        settings,
        title="Vareon",
        routers=[api.verify_page, api.dashboard, api.system, api.websocket],
        token_verifier=token_verifier,
        with_database=False,
        resources=[upstream],
        follow_session_revocations=False,
    )
    edge = create_edge(app, settings)
    return edge
