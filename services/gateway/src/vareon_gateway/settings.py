"""Gateway settings: env prefix GATEWAY_, one upstream base URL per service."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings

SERVICES = ("identity", "wallet", "arcana", "cognisys", "myntrix", "neosyntis")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="GATEWAY_")

    service_name: str = "gateway"
    identity_url: str = "http://127.0.0.1:8101"
    wallet_url: str = "http://127.0.0.1:8102"
    arcana_url: str = "http://127.0.0.1:8103"
    cognisys_url: str = "http://127.0.0.1:8104"
    myntrix_url: str = "http://127.0.0.1:8105"
    neosyntis_url: str = "http://127.0.0.1:8106"
    jwks_url: str | None = None
    """Defaults to identity_url + /.well-known/jwks.json."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | None = None
    """Processes for ``python -m vareon_gateway``; default: the number of cores."""
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 60.0
    """Per read, not per response: a slow server-sent-event stream stays open between events."""
    pool_timeout_s: float = 5.0
    max_connections: int = 200
    keepalive_expiry_s: float = 30.0
    max_body_bytes: int = 1_048_576
    """Request bodies over this are refused with 413 while they stream."""
    upload_body_bytes: int = 1024 * 1_048_576
    """The limit under ``upload_prefixes`` instead: the dataset upload keeps neosyntis's own
    limit (NEOSYNTIS_MAX_UPLOAD_BYTES, 1 GiB), which neosyntis enforces itself."""
    upload_prefixes: tuple[str, ...] = ("/api/v1/neosyntis/datasets",)
    token_cache_ttl_s: float = 60.0
    """A verified bearer token is trusted again for this long (never past its exp)."""
    token_cache_size: int = 10_000
    environment: Literal["development", "staging", "production"] = "development"
    """development also allows CORS from any http://localhost:* and http://127.0.0.1:* page."""
    cors_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) browsers may call the API from, with credentials."""
    rate_limit_enabled: bool = True
    rate_limit_storage: str = "memory://"
    """memory:// (per process) or redis://host:port/db, redis+unix:///path (shared)."""
    rate_limit_strategy: Literal["fixed-window", "sliding-window-counter", "moving-window"] = (
        "sliding-window-counter"
    )
    rate_limit_auth: str = "30/minute;300/hour"
    """Public ways in under /api/v1/auth (login, register, token, ...), per client IP."""
    rate_limit_ai: str = "60/minute"
    """Chat, generation and analysis under /api/v1/arcana, per user (per IP for the demo)."""
    rate_limit_default: str = "1200/minute"
    """Everything else: per user when signed in, per client IP otherwise."""
    openapi_refresh_s: float = 10.0
    """/openapi.json asks the services for their documents again at most this often."""

    websocket_auth_timeout_s: float = 10.0
    """How long a WebSocket without a token in its handshake may wait for its auth message."""
    websocket_max_message_bytes: int = 1_048_576
    status_timeout_s: float = 1.0
    status_cache_s: float = 2.0
    """System status fans out to every service; caching bounds what a flood of polls costs."""
    dashboard_timeout_s: float = 0.5
    """The deadline of each dashboard section (a late one is marked, the rest still answer)."""
    trust_forwarded_headers: bool = False
    """True only behind a proxy we run: then an incoming X-Forwarded-For is extended, not reset."""

    @model_validator(mode="after")
    def _default_jwks_url(self) -> GatewaySettings:
        if not self.jwks_url:
            self.jwks_url = self.identity_url.rstrip("/") + "/.well-known/jwks.json"
        return self

    def upstream_url(self, service: str) -> str:
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")

    def upstreams(self) -> dict[str, str]:
        return {service: self.upstream_url(service) for service in SERVICES}
