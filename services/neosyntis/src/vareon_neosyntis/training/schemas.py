"""HTTP models of training jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TrainingJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    dataset: str = Field(max_length=128)
    dataset_version: int = Field(ge=1)
    target: str = Field(max_length=256)
    algorithm: str = Field(max_length=64, description="see GET /training-jobs/algorithms")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    budget_micro: int = Field(gt=0, le=10**15, description="the most this job may cost")
    model_name: str | None = Field(
        default=None, max_length=128, description="register the result as a version of it"
    )
    test_fraction: float = Field(default=0.25, ge=0.05, le=0.5)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class TrainingJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())
    id: uuid.UUID
    owner_id: uuid.UUID
    dataset_version_id: uuid.UUID | None
    dataset_digest: str
    target: str
    algorithm: str
    hyperparameters: dict[str, Any]
    test_fraction: float
    seed: int
    model_name: str | None
    state: str
    progress: float
    budget_micro: int
    price_micro_per_cpu_s: int
    cpu_seconds: float
    cost_micro: int
    attempts: int
    max_attempts: int
    metrics: dict[str, float] | None
    artifact_uri: str | None
    artifact_digest: str | None
    model_version: int | None
    failure_reason: str | None
    error: str | None
    workflow_run_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TrainingJobPage(BaseModel):
    items: list[TrainingJobOut]
    next_cursor: str | None


class LogLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    attempt_token: int = Field(validation_alias="fencing_token")
    message: str


class AlgorithmOut(BaseModel):
    name: str
    task: str
    hyperparameters: dict[str, Any]
    """JSON Schema of the accepted hyperparameters."""
