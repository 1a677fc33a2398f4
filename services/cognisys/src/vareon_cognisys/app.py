"""The cognisys service app: wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import load_settings

from vareon_cognisys.api import router
from vareon_cognisys.consumers import build_consumers
from vareon_cognisys.models import INBOX, OUTBOX
from vareon_cognisys.settings import CognisysSettings


def create_app(
    settings: CognisysSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or load_settings(CognisysSettings)
    return create_service(
        settings,
        title="Vareon cognisys",
        routers=[router],
        token_verifier=token_verifier,
        messaging=Messaging(outbox=OUTBOX, inbox=INBOX, consumers=build_consumers()),
    )
