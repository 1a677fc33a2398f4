"""Neosyntis's section of the dashboard: datasets, workflows, training jobs by state."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import Principal
from vareon_chassis.errors import Forbidden

from vareon_neosyntis.datasets.models import Dataset
from vareon_neosyntis.summary.schemas import NeosyntisSummary, Recent
from vareon_neosyntis.training.models import TrainingJob
from vareon_neosyntis.workflows.models import Workflow, WorkflowRun

PLATFORM_READ = "system:read"


async def summary(
    db: AsyncSession, user: Principal, scope: Literal["user", "platform"]
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
