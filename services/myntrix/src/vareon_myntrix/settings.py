"""Myntrix settings: every field is the environment variable ``MYNTRIX_<FIELD>``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings

from vareon_myntrix.devices import Policy
from vareon_myntrix.workflow_requests import RolloutDefaults


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
    deployment_batch_size: int = Field(1, ge=1)
    """Rollout settings of deployments requested by events (a neosyntis workflow step),
    which carry none: devices updated at a time, ..."""
    deployment_pause_s: float = Field(0.0, ge=0)
    """... seconds between batches, ..."""
    deployment_failure_threshold: float = Field(0.2, ge=0, le=1)
    """... failed / eligible devices above which the rollout stops, ..."""
    deployment_device_timeout_s: float = Field(600.0, gt=0)
    """... and how long a device has to report the new version."""
    run_consumers: bool = True
    """False runs the HTTP API, relay and loops without the event consumers (an API-only
    replica; also keeps tests that need no consumers free of consumer-group joins)."""

    def device_policy(self) -> Policy:
        return Policy(
            default_timeout_s=self.device_inactivity_timeout_s,
            degraded_after_ratio=self.degraded_after_ratio,
            max_clock_skew_s=self.heartbeat_max_clock_skew_s,
        )

    def rollout_defaults(self) -> RolloutDefaults:
        return RolloutDefaults(
            batch_size=self.deployment_batch_size,
            pause_s=self.deployment_pause_s,
            failure_threshold=self.deployment_failure_threshold,
            device_timeout_s=self.deployment_device_timeout_s,
        )
