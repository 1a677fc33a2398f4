"""The arcana service: wiring only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.openai_errors import OpenAIErrors
from vareon_chassis.service import Messaging, Resource, create_service
from vareon_chassis.settings import load_settings

from vareon_arcana import analysis, api_keys
from vareon_arcana.api import (
    ai,
    chat,
    chat_sessions,
    conversations,
    openai,
    personas,
    scenarios,
    search,
    summary,
    transcripts,
    usage,
)
from vareon_arcana.calls import Calls
from vareon_arcana.consumers import build_consumers
from vareon_arcana.demo import DemoLimiter
from vareon_arcana.live import LiveReplies
from vareon_arcana.models import INBOX, OUTBOX
from vareon_arcana.providers import Providers
from vareon_arcana.scenarios.worker import ScenarioWorker
from vareon_arcana.settings import ArcanaSettings
from vareon_arcana.shell import socket


def create_app(
    settings: ArcanaSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or load_settings(ArcanaSettings)
    worker = ScenarioWorker(settings)
    app = create_service(
        settings,
        title="Vareon arcana",
        routers=[
            chat_sessions.router,
            conversations.router,
            chat.router,
            ai.router,
            socket.router,
            openai.router,
            usage.router,
            personas.router,
            scenarios.router,
            search.router,
            transcripts.router,
            summary.router,
        ],
        messaging=Messaging(
            outbox=OUTBOX,
            inbox=INBOX,
            consumers=[*build_consumers(), *api_keys.build_consumers()],
        ),
        token_verifier=token_verifier,
        resources=[_calls(settings), worker.loop()],
    )
    app.state.demo_limiter = DemoLimiter(settings.demo_limit)
    app.state.scenario_worker = worker
    app.add_middleware(OpenAIErrors)  # /v1 errors in OpenAI's shape
    return app


def _calls(settings: ArcanaSettings) -> Resource:
    """The providers' clients and the running calls, left before the database is disposed
    of: running calls settle first."""

    @contextlib.asynccontextmanager
    async def calls(app: FastAPI) -> AsyncIterator[None]:
        providers = Providers(settings, offline_json=analysis.offline)
        app.state.calls = Calls(settings, providers, app.state.sessionmaker)
        app.state.live = LiveReplies(settings.stream_grace_s)
        try:
            yield
        finally:
            await app.state.live.close()
            await app.state.calls.drain()
            await providers.close()

    return calls
