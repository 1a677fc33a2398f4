"""HTTP models of workflows and their runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vareon_neosyntis.workflows.dag import Step


class WorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=128)
    description: str = Field(default="", max_length=2000)
    steps: list[Step] = Field(min_length=1, max_length=64)


class WorkflowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    description: str
    steps: list[dict[str, Any]]
    revision: int
    created_at: datetime
    updated_at: datetime


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    step_id: str
    kind: str
    state: str
    attempt: int
    next_attempt_at: datetime | None
    outputs: dict[str, Any]
    error: str | None
    training_job_id: uuid.UUID | None
    deployment_id: uuid.UUID | None
    started_at: datetime | None
    finished_at: datetime | None


class RunOut(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_revision: int
    state: str
    created_at: datetime
    finished_at: datetime | None
    steps: list[StepOut]
