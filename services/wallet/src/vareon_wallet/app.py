"""The wallet service app: wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.periodic import periodic
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import load_settings

from vareon_wallet.accounts import Policy
from vareon_wallet.api import router
from vareon_wallet.consumers import build_consumers
from vareon_wallet.models import OUTBOX, inbox_table
from vareon_wallet.settings import WalletSettings
from vareon_wallet.sweeper import expire_due_holds


def create_app(
    settings: WalletSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or load_settings(WalletSettings)
    policy = Policy.from_settings(settings)

    async def expire_holds(app: FastAPI) -> bool:
        return await expire_due_holds(app.state.sessionmaker, policy)

    app = create_service(
        settings,
        title="Vareon wallet",
        routers=[router],
        token_verifier=token_verifier,
        messaging=Messaging(outbox=OUTBOX, inbox=inbox_table, consumers=build_consumers(policy)),
        resources=[periodic("hold-sweep", expire_holds, every_s=settings.hold_sweep_interval_s)],
    )
    app.state.wallet_policy = policy
    return app
