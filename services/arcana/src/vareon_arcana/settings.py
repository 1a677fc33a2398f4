"""Arcana's settings: every field is the env var ARCANA_<FIELD>."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings


class ProviderSettings(BaseModel):
    """One OpenAI-compatible endpoint; no ``api_key`` means the provider is not configured."""

    base_url: str | None = None
    """None: the SDK's default (api.openai.com)."""
    api_key: str | None = None
    json_mode: bool = True
    """Send response_format json_object when JSON is wanted (false for endpoints without it)."""
    tools: bool = True
    """Whether its models take tools (and tool calls or results in the history); false: its
    targets are left out of such a call's route (a 400 tools_not_supported if none is left)."""


def _default_providers() -> dict[str, ProviderSettings]:
    return {
        "openai": ProviderSettings(),
        "openrouter": ProviderSettings(base_url="https://openrouter.ai/api/v1"),
    }


class ArcanaSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="ARCANA_")

    service_name: str = "arcana"
    port: int = 8103
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/arcana"
    providers: dict[str, ProviderSettings] = _default_providers()
    """JSON, e.g. ARCANA_PROVIDERS='{"openai": {"api_key": "sk-..."}}'."""
    provider_timeout_s: float = 30.0
    """Connect/read timeout of one provider call; a stall longer than this is a failure."""
    retry_after_cap_s: float = 2.0
    """A 429 whose Retry-After is at most this is retried once on the same target."""
    max_output_tokens: int = 512
    history_token_budget: int = 2_000
    memory_token_budget: int = 400
    reservation_ttl_s: int = 600
    stream_grace_s: float = 120.0
    """A chat reply whose every watcher left goes on this long for one to come back
    (``GET .../messages/{id}/stream``); then it stops (settled as disconnected). 0: at once."""
    """A reservation left by a crashed call stops counting after this long."""
    routing_budget_s: float = 0.25
    """Time all routing-rule text conditions of one request may take together (each pattern
    also stops at its own timeout); past it the remaining ones count as no match."""
    shell_auth_timeout_s: float = 10.0
    """How long a shell connection may wait before its first (auth) message."""
    shell_idle_timeout_s: float = 300.0
    """A shell with no command for this long is closed (4408)."""
    shell_max_lifetime_s: float = 3600.0
    """A shell is closed after this long whatever its token says (4408)."""
    shell_commands_per_minute: int = 60
    """Commands one connection may run per minute; more are answered with an error."""
    scenario_poll_s: float = 2.0
    """How often the scenario worker looks for a queued run (a new run wakes it at once)."""
    scenario_lease_s: float = 60.0
    """A running scenario run whose worker stopped renewing this long is resumed by another."""
    scenario_active_runs: int = 3
    scenario_parallel_runs: int = 4
    """Runs one process plays at once (each plays its conversations one after another)."""
    """Runs one user may have queued or running at once (uncharged runs cost the operator)."""
    demo_limit: str = "5/minute"
    """Calls of the unauthenticated demo per client IP (the `limits` notation)."""
    title_model: str | None = None
    """The model a session's title is asked of (a routing target's model id, or
    vareon-offline-1 for the deterministic offline title). None: the first free (price 0)
    target of the rules open to the user, else the offline title (titles.py)."""
