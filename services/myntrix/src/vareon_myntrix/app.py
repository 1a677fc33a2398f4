"""The myntrix service app: wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.periodic import periodic
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import load_settings

from vareon_myntrix.api import routers
from vareon_myntrix.consumers import build_consumers
from vareon_myntrix.models import OUTBOX, inbox_table
from vareon_myntrix.settings import MyntrixSettings
from vareon_myntrix.sweeper import roll_out, sweep


def create_app(
    settings: MyntrixSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or load_settings(MyntrixSettings)
    policy = settings.device_policy()

    async def sweeper(app: FastAPI) -> None:
        await sweep(app.state.sessionmaker, policy)

    async def rollouts(app: FastAPI) -> None:
        await roll_out(app.state.sessionmaker, policy)

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
        resources=[
            periodic("sweep", sweeper, every_s=settings.sweep_interval_s),
            periodic("rollout", rollouts, every_s=settings.rollout_interval_s),
        ],
    )
    app.state.device_policy = policy
    return app
