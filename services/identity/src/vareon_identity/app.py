"""The identity service: wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import load_settings

from vareon_identity.addresses import parse_networks
from vareon_identity.api import router
from vareon_identity.google import GoogleVerifier
from vareon_identity.keys import KeyRing
from vareon_identity.mailer import MailSender
from vareon_identity.models import OUTBOX
from vareon_identity.passwords import Passwords
from vareon_identity.settings import IdentitySettings
from vareon_identity.throttle import ActionLimit, LoginThrottle
from vareon_identity.tokens import TokenIssuer


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or load_settings(IdentitySettings)
    keys = KeyRing(settings.signing_keys_dir)  # fails here, naming the variable, without keys
    mailer = MailSender(settings)
    app = create_service(
        settings,
        title="Vareon identity",
        routers=[router],
        messaging=Messaging(outbox=OUTBOX),
        resources=[mailer.loop()],
        follow_session_revocations=False,  # identity reads its own sessions table instead
        token_verifier=TokenVerifier(
            keys,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            leeway_s=settings.token_leeway_s,
        ),
    )
    app.state.key_ring = keys
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
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
        max_concurrent=settings.password_hash_concurrency,
        max_waiting=settings.password_hash_queue,
    )
    app.state.login_throttle = LoginThrottle(
        free_failures=settings.login_free_failures,
        max_delay_s=settings.login_max_delay_s,
        base_delay_s=settings.login_base_delay_s,
        per_ip=settings.login_limit_per_ip,
    )
    app.state.mail_sender = mailer
    app.state.resend_limit = ActionLimit("verification mail", settings.resend_verification_limit)
    app.state.resend_limit_per_ip = ActionLimit(
        "verification mail", settings.resend_verification_limit_per_ip
    )
    app.state.register_limit = ActionLimit("registration", settings.register_limit_per_ip)
    app.state.google_verifier = (
        GoogleVerifier(settings.google_client_id, settings.google_jwks_url)
        if settings.google_client_id
        else None
    )
    return app
