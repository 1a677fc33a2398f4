"""Identity's settings: every field is the env var IDENTITY_<FIELD>."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="IDENTITY_")

    service_name: str = "identity"
    port: int = 8101
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/identity"
    signing_keys_dir: Path | None = None
    """Directory of Ed25519 PEM files; the newest file name is the active key."""
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    """Idle lifetime: each refresh extends the login by this much..."""
    refresh_session_max_lifetime_s: int = 90 * 24 * 3600
    """...but never past this long after the login itself (then sign in again)."""
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65_536
    argon2_parallelism: int = 4
    password_hash_concurrency: int = 4
    """Argon2 hashes/verifies run at once per process (each is ~180 ms of CPU by default)."""
    password_hash_queue: int = 32
    """Waiting behind them; more are shed with 503 + Retry-After."""
    register_limit_per_ip: str = "20/hour"
    """Registrations per client IP (the `limits` notation), per process."""
    trusted_proxies: str = ""
    """Comma-separated addresses/CIDRs of the gateway: only their X-Forwarded-For is believed
    (per-IP limits and the session list then see the client, not the gateway)."""
    login_free_failures: int = 5
    """Failed logins of one account from one client before each next try waits (base delay)
    x 1, 2, 4..."""
    login_base_delay_s: float = 1.0
    login_max_delay_s: float = 900.0
    """The longest wait between two tries of one account from one client."""
    reauthentication_max_age_s: int = 300
    """Deleting a passwordless (Google) account needs a login at most this old."""
    login_limit_per_ip: str = "50/15 minutes"
    """Unsuccessful logins allowed per client IP (the `limits` notation), in this process."""
    email_verification_ttl_s: int = 48 * 3600
    resend_verification_limit: str = "3/hour"
    """Verification mails a user may ask for again (the `limits` notation), per process."""
    resend_verification_limit_per_ip: str = "10/hour"
    """Verification mails asked for again from one client IP, per process."""
    public_base_url: str = "http://localhost:8000"
    """Where users reach the platform; the verification link is <this>/verify-email?token=..."""
    smtp_host: str | None = None
    """SMTP server for outgoing mail; unset: mails wait in `mail_outbox` (a warning is logged)."""
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "Vareon <no-reply@vareon.local>"
    mail_poll_interval_s: float = 5.0
    """The sender is woken after each commit that queues mail; polling is the fallback."""
    mail_max_attempts: int = 8
    google_client_id: str | None = None
    """OAuth client id the Google ID tokens must be issued for; unset: Google sign-in is off."""
    google_jwks_url: str = "https://www.googleapis.com/oauth2/v3/certs"
