"""Wallet settings: every field is the environment variable ``WALLET_<FIELD>``."""

from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings

MICRO = 1_000_000
"""Micro-credits per credit."""


class WalletSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="WALLET_")

    service_name: str = "wallet"
    port: int = 8102
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/wallet"
    initial_wallet_balance: int = 10 * MICRO
    """Signup bonus in micro-credits (INITIAL_WALLET_BALANCE in the issue)."""
    low_balance_threshold: int = 1 * MICRO
    hold_ttl_s: int = 900
    hold_sweep_interval_s: float = 10.0
