"""The identity service: wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, create_service

from vareon_identity.api import router
from vareon_identity.keys import KeyRing
from vareon_identity.models import OUTBOX
from vareon_identity.passwords import Passwords
from vareon_identity.settings import IdentitySettings
from vareon_identity.throttle import LoginThrottle
from vareon_identity.tokens import TokenIssuer


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    keys = KeyRing(settings.signing_keys_dir)  # fails here, naming the variable, without keys
    app = create_service(
        settings,
        title="Vareon identity",
        routers=[router],
        messaging=Messaging(outbox=OUTBOX),
        token_verifier=TokenVerifier(
            keys, issuer=settings.token_issuer, audience=settings.token_audience
        ),
    )
    app.state.key_ring = keys
    app.state.token_issuer = TokenIssuer(
        keys,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_s=settings.access_token_ttl_s,
    )
    app.state.passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_cost_kib=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
    )
    app.state.login_throttle = LoginThrottle(
        per_account=settings.login_limit_per_account, per_ip=settings.login_limit_per_ip
    )
    return app
