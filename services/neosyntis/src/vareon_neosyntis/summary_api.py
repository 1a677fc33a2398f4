"""Neosyntis's section of the dashboard: datasets, workflows, training jobs by state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import Forbidden

from vareon_neosyntis.datasets.models import Dataset
from vareon_neosyntis.training.models import TrainingJob
from vareon_neosyntis.workflows.models import Workflow, WorkflowRun

router = APIRouter(prefix="/api/v1/neosyntis", tags=["dashboard"])
PLATFORM_READ = "system:read"


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


@router.get("/summary", response_model=NeosyntisSummary)
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> NeosyntisSummary:
    if scope == "platform" and not user.has(PLATFORM_READ):
        raise Forbidden(f"platform totals need {PLATFORM_READ}")
    mine = scope == "user"
    datasets = select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))
    workflows = select(func.count()).select_from(Workflow).where(Workflow.deleted_at.is_(None))
    jobs = select(TrainingJob.state, func.count()).group_by(TrainingJob.state)
    runs = select(WorkflowRun.state, func.count()).group_by(WorkflowRun.state)
    if mine:
        datasets = datasets.where(Dataset.owner_id == user.id)
        workflows = workflows.where(Workflow.owner_id == user.id)
        jobs = jobs.where(TrainingJob.owner_id == user.id)
        runs = runs.where(WorkflowRun.owner_id == user.id)
    result = NeosyntisSummary(
        scope=scope,
        datasets=await db.scalar(datasets) or 0,
        workflows=await db.scalar(workflows) or 0,
        training_jobs_by_state={s: n for s, n in (await db.execute(jobs)).all()},
        workflow_runs_by_state={s: n for s, n in (await db.execute(runs)).all()},
    )
    if mine:
        latest = await db.execute(
            select(TrainingJob.id, TrainingJob.algorithm, TrainingJob.state, TrainingJob.created_at)
            .where(TrainingJob.owner_id == user.id)
            .order_by(TrainingJob.created_at.desc())
            .limit(5)
        )
        result.recent = [
            Recent(kind="training-job", id=i, title=f"{algorithm} ({state})", at=at)
            for i, algorithm, state, at in latest.all()
        ]
    return result
