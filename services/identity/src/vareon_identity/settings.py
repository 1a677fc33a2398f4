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
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65_536
    argon2_parallelism: int = 4
    login_limit_per_account: str = "10/15 minutes"
    """Failed logins allowed per email (the `limits` notation), counted in this process."""
    login_limit_per_ip: str = "50/15 minutes"
    """Failed logins allowed per client IP, counted in this process."""
