"""HTTP request and response models."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl

MAX_PREFERENCES_BYTES = 16_384


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    encoded = json.dumps(value)
    if "\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    if len(encoded) > MAX_PREFERENCES_BYTES:
        raise ValueError(f"must be at most {MAX_PREFERENCES_BYTES} bytes of JSON")
    return value


DisplayName = Annotated[
    str, Field(min_length=1, max_length=100), AfterValidator(str.strip), AfterValidator(_no_nul)
]
Password = Annotated[str, Field(max_length=1024)]
RefreshToken = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(Strict):
    email: EmailStr
    password: Password
    display_name: DisplayName


class LoginRequest(Strict):
    email: EmailStr
    password: Password


class VerifyEmailRequest(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class GoogleSignInRequest(Strict):
    id_token: Annotated[str, Field(min_length=1, max_length=8192)]


class RefreshRequest(Strict):
    refresh_token: RefreshToken


class PasswordChange(Strict):
    current_password: Password
    new_password: Password


class AccountDeletion(Strict):
    password: Password | None = None
    """Required when the account has a password; without one, the login must be recent."""


class ProfileUpdate(Strict):
    display_name: DisplayName | None = None
    avatar_url: Annotated[HttpUrl, Field(max_length=2048)] | None = None
    preferences: Annotated[dict[str, Any], AfterValidator(_bounded_json)] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    email: str | None
    display_name: str
    avatar_url: str | None
    preferences: dict[str, Any]
    roles: list[str] = Field(validation_alias="role_names")
    email_verified_at: datetime | None
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class SessionOut(BaseModel):
    id: UUID = Field(description="The login (refresh-token family) this session is.")
    started_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


ApiKeyScope = Literal["chat", "models:read"]
ApiKeyName = Annotated[
    str, Field(min_length=1, max_length=100), AfterValidator(str.strip), AfterValidator(_no_nul)
]
Credits = Annotated[int, Field(ge=0, le=10**15, description="Micro-credits.")]


class ApiKeyCreate(Strict):
    name: ApiKeyName
    scopes: Annotated[list[ApiKeyScope], Field(min_length=1, max_length=8)] = [
        "chat",
        "models:read",
    ]
    expires_at: datetime | None = Field(None, description="Omit for a key that never expires.")
    budget_total: Credits | None = Field(None, description="Lifetime spending limit.")
    budget_period: Literal["day", "month"] | None = None
    budget_per_period: Credits | None = Field(
        None, description="Spending limit per `budget_period` (UTC day or month)."
    )
    rpm_limit: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="Requests per minute."
    )


class ApiKeyRename(Strict):
    name: ApiKeyName


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    user_id: UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[str]
    expires_at: datetime | None
    budget_total: int | None
    budget_period: str | None
    budget_per_period: int | None
    rpm_limit: int | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret: shown this once, never again.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
