"""The myntrix service app: wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, background, create_service
from vareon_chassis.settings import load_settings

from vareon_myntrix.api import routers
from vareon_myntrix.consumers import build_consumers
from vareon_myntrix.models import OUTBOX, inbox_table
from vareon_myntrix.settings import MyntrixSettings
from vareon_myntrix.sweeper import every, roll_out, sweep


def create_app(
    settings: MyntrixSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or load_settings(MyntrixSettings)
    policy = settings.device_policy()

    async def sweeper(app: FastAPI) -> None:
        sm = app.state.sessionmaker
        await every(settings.sweep_interval_s, lambda: sweep(sm, policy), "sweep")

    async def rollouts(app: FastAPI) -> None:
        sm = app.state.sessionmaker
        await every(settings.rollout_interval_s, lambda: roll_out(sm, policy), "rollout")

    app = create_service(
        settings,
        title="Vareon myntrix",
        routers=routers,
        token_verifier=token_verifier,
        messaging=Messaging(
            outbox=OUTBOX,
            inbox=inbox_table,
            consumers=build_consumers(settings) if settings.run_consumers else (),
        ),
        resources=[background(sweeper), background(rollouts)],
    )
    app.state.device_policy = policy
    return app
