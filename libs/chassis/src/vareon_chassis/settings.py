"""Settings base: one env prefix per service; a bad value names the variable to fix."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set ``env_prefix`` (``WALLET_`` ...)."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="VAREON_")

    service_name: str = "vareon"
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/vareon"
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 30.0
    """How long a request waits for a pooled connection before the pool gives up."""
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """PLAINTEXT only for the embedded broker and tests; deployments use SASL_SSL or SSL."""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    """This service's own principal: topic ACLs are granted per service."""
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    """Client certificate, for brokers that authenticate by mTLS instead of SASL."""
    kafka_ssl_keyfile: str | None = None
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000
    kafka_request_timeout_ms: int = 10_000
    kafka_max_poll_interval_ms: int = 300_000
    """A member that polls no records for this long leaves its group; consumers waiting out
    an outage keep polling (paused), so only a hung process hits it."""
    kafka_fetch_max_wait_ms: int = 500
    """How long the broker may hold a fetch that finds nothing (Kafka answers as soon as a
    record lands, so this costs no latency there)."""
    kafka_wake_dir: str | None = None
    """Embedded broker only (it answers a waiting fetch late): relays announce published
    topics through datagram sockets in this directory and consumers fetch when woken
    (``messaging.wake``). ``vareon up`` sets it; unset, consumers long-poll as usual."""
    kafka_idle_fetch_s: float = 10.0
    """With ``kafka_wake_dir``: how often quiet consumers fetch without a wake-up (a fallback
    for producers that announce nothing; each costs a few fetches per consumer)."""
    kafka_partitions: int = 3
    jwks_url: str | None = None
    """Where identity publishes its signing keys; None only in identity itself."""
    token_issuer: str = "vareon-identity"  # noqa: S105 - a name, not a secret
    token_audience: str = "vareon"  # noqa: S105 - a name, not a secret
    token_leeway_s: float = 30.0
    """Clock skew tolerated on a token's exp/iat/nbf (hosts' clocks differ by a little)."""
    access_token_max_lifetime_s: float = 900.0
    """The longest an access token lives (identity's TTL): how long a revocation is kept."""
    consumer_max_attempts: int = 5
    consumer_backoff_s: float = 0.2
    relay_batch_size: int = 200
    relay_poll_interval_s: float = 5.0
    """A fallback: NOTIFY wakes the relay at each commit that stages an event (a listener
    that lost its connection polls at this pace until it is back)."""
    relay_listen: bool = True
    """Wake the relay with LISTEN/NOTIFY; off leaves only polling (fault tests)."""
    consumer_group_prefix: str = ""
    """Test isolation only: several instances of one service in one test session (each on
    its own database) must not share consumer groups. Production leaves it empty."""
    consumer_crash_after_commit_for: str | None = None
    """Fault injection for tests, never set in production: an event id or type after whose
    commit a consumer exits the process before committing the offset."""
    outbox_retention_days: float = 7.0
    """Sent outbox rows older than this are purged by the relay (0 keeps them forever)."""
    max_body_bytes: int = 1_048_576
    """Request bodies over this are refused with 413 while they stream (BodyLimitMiddleware)."""
    body_limit_exempt: tuple[str, ...] = ()
    """Path prefixes that take large uploads and enforce their own limit."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP collector to send traces to (``http://jaeger:4318``); unset or empty, and
    without ``OTEL_EXPORTER_OTLP_ENDPOINT``, tracing is off."""
    metrics_interval_s: float = 15.0
    """How often the outbox backlog and consumer lag gauges are measured (0: never)."""
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


class SettingsError(RuntimeError):
    pass


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment; errors name the environment variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "")
        lines = [
            f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
