"""The arcana service: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, create_service

from vareon_arcana import chat
from vareon_arcana.api import router
from vareon_arcana.api_ai import router as ai_router
from vareon_arcana.api_shell import router as shell_router
from vareon_arcana.consumers import build_consumers
from vareon_arcana.demo import DemoLimiter
from vareon_arcana.models import INBOX, OUTBOX
from vareon_arcana.providers import Providers
from vareon_arcana.settings import ArcanaSettings


def create_app(
    settings: ArcanaSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or ArcanaSettings()
    app = create_service(
        settings,
        title="Vareon arcana",
        routers=[router, ai_router, shell_router],
        messaging=Messaging(outbox=OUTBOX, inbox=INBOX, consumers=build_consumers()),
        token_verifier=token_verifier,
    )
    providers = Providers(settings)
    calls: set[asyncio.Task[None]] = set()
    app.state.providers = providers
    app.state.calls = calls
    app.state.demo_limiter = DemoLimiter(settings.demo_limit)
    chassis_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with chassis_lifespan(app):
            try:
                yield
            finally:  # before the chassis disposes of the database engine
                await chat.drain(calls)
                await providers.close()

    app.router.lifespan_context = lifespan
    return app
