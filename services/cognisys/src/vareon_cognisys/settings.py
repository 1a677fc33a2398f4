"""Cognisys's settings: every field is the env var COGNISYS_<FIELD>."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings


class CognisysSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="COGNISYS_")

    service_name: str = "cognisys"
    port: int = 8104
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/cognisys"
