"""The myntrix service app: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import load_settings

from vareon_myntrix.api import routers
from vareon_myntrix.consumers import build_consumers
from vareon_myntrix.devices import Policy
from vareon_myntrix.models import OUTBOX, inbox_table
from vareon_myntrix.settings import MyntrixSettings
from vareon_myntrix.sweeper import every, roll_out, sweep


def create_app(
    settings: MyntrixSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or load_settings(MyntrixSettings)
    policy = Policy(default_timeout_s=settings.device_inactivity_timeout_s,
                    degraded_after_ratio=settings.degraded_after_ratio,
                    max_clock_skew_s=settings.heartbeat_max_clock_skew_s)
    app = create_service(
        settings,
        title="Vareon myntrix",
        routers=routers,
        token_verifier=token_verifier,
        messaging=Messaging(outbox=OUTBOX, inbox=inbox_table, consumers=build_consumers()),
    )
    app.state.device_policy = policy
    chassis_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with chassis_lifespan(app):
            sm = app.state.sessionmaker
            tasks = [
                asyncio.create_task(every(settings.sweep_interval_s,
                                          lambda: sweep(sm, policy), "sweep")),
                asyncio.create_task(every(settings.rollout_interval_s,
                                          lambda: roll_out(sm, policy), "rollout")),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
    return app
