"""The dashboard section's HTTP model."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class Recent(BaseModel):
    kind: Literal["training-job", "workflow-run"]
    id: uuid.UUID
    title: str
    at: datetime


class NeosyntisSummary(BaseModel):
    scope: Literal["user", "platform"]
    datasets: int
    workflows: int
    training_jobs_by_state: dict[str, int]
    workflow_runs_by_state: dict[str, int]
    recent: list[Recent] = []
