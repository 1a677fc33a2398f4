"""HTTP models of the model registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Visibility = Literal["private", "public"]


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=128)
    description: str = Field(default="", max_length=2000)
    visibility: Visibility = Field(
        default="private", description="'public' needs the `models:write` permission"
    )


class ModelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(default=None, max_length=2000)
    visibility: Visibility | None = None


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    description: str
    visibility: Visibility
    created_at: datetime


class ModelPage(BaseModel):
    items: list[ModelOut]
    next_cursor: str | None


class ModelVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    artifact_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    artifact_uri: str | None = Field(default=None, max_length=2000)
    framework: str | None = Field(default=None, max_length=64)
    training_job_id: uuid.UUID | None = None
    dataset_version_id: uuid.UUID | None = None
    dataset_digest: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())
    id: uuid.UUID
    version: int
    registered_by: uuid.UUID | None
    artifact_digest: str
    artifact_uri: str | None
    framework: str | None
    training_job_id: uuid.UUID | None
    dataset_version_id: uuid.UUID | None
    dataset_digest: str | None
    parameters: dict[str, Any]
    metrics: dict[str, float]
    registered_at: datetime


class AliasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(ge=1, description="None removes the alias")


class AliasPeriod(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    alias: str
    version: int | None
    valid_from: datetime
    valid_to: datetime | None


class AliasOut(AliasPeriod):
    model: str
    previous_version: int | None = None
