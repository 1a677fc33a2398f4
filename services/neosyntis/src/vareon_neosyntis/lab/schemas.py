"""HTTP models of the open lab."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DatasetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str
    version: int = Field(ge=1)


class PreviewIn(DatasetRef):
    limit: int = Field(default=20, ge=1)


class PreviewOut(BaseModel):
    dataset: str
    version: int
    columns: list[dict[str, Any]]
    rows: list[dict[str, Any]]


class BaselineIn(DatasetRef):
    target: str
    folds: int = Field(default=5, ge=2)


class CompareIn(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str
    versions: list[int] | None = None


class OperationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    operation: str
    parameters: dict[str, Any]
    status: str
    progress: float
    cached: bool
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
