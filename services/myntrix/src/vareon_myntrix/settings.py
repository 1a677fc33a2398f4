"""Myntrix settings: every field is the environment variable ``MYNTRIX_<FIELD>``."""

from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings


class MyntrixSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="MYNTRIX_")

    service_name: str = "myntrix"
    port: int = 8105
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/myntrix"
    command_ttl_s: float = 300.0
    """How long a queued agent command may wait for its outcome before it expires."""
    device_inactivity_timeout_s: float = 90.0
    """Default per-device timeout: no accepted heartbeat for this long means offline."""
    degraded_after_ratio: float = 0.5
    """A device whose last heartbeat is older than this share of its timeout is degraded."""
    heartbeat_max_clock_skew_s: float = 300.0
    """A heartbeat dated further than this in the future (device clock) is refused."""
    sweep_interval_s: float = 5.0
    """How often device connectivity and command expiry are checked."""
    rollout_interval_s: float = 2.0
    """How often active deployments are advanced."""
    run_consumers: bool = True
    """False runs the HTTP API, relay and loops without the event consumers (an API-only
    replica; also keeps tests that need no consumers free of consumer-group joins)."""
