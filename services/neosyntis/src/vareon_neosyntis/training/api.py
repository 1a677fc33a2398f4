"""Training job routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import NotFound
from vareon_chassis.pagination import Cursor, PageSize, encode_cursor

from vareon_neosyntis.training import algorithms, service
from vareon_neosyntis.training.schemas import (
    AlgorithmOut,
    LogLine,
    TrainingJobIn,
    TrainingJobOut,
    TrainingJobPage,
)
from vareon_neosyntis.training.states import JobState

router = APIRouter(prefix="/api/v1/neosyntis/training-jobs", tags=["training-jobs"])


def _id(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no training job {job_id}") from None


@router.get("/algorithms", response_model=list[AlgorithmOut])
async def list_algorithms(user: CurrentUser) -> list[AlgorithmOut]:
    return [
        AlgorithmOut(name=a.name, task=a.task, hyperparameters=a.params.model_json_schema())
        for a in algorithms.CATALOGUE.values()
    ]


@router.post("", status_code=201, response_model=TrainingJobOut)
async def submit(
    body: TrainingJobIn, request: Request, session: SessionDep, user: CurrentUser
) -> TrainingJobOut:
    settings = request.app.state.settings
    job = await service.submit(
        session,
        user.id,
        **body.model_dump(),
        price_micro_per_cpu_s=settings.training_price_micro_per_cpu_s,
        max_attempts=settings.training_max_attempts,
    )
    return TrainingJobOut.model_validate(job)


@router.get("", response_model=TrainingJobPage)
async def list_jobs(
    session: SessionDep,
    user: CurrentUser,
    limit: PageSize = 50,
    cursor: Cursor = None,
    state: JobState | None = None,
) -> TrainingJobPage:
    jobs = await service.list_jobs(session, user.id, limit=limit, cursor=cursor, state=state)
    last = jobs[-1] if len(jobs) == limit else None
    return TrainingJobPage(
        items=[TrainingJobOut.model_validate(j) for j in jobs],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


@router.get("/{job_id}", response_model=TrainingJobOut)
async def get_job(job_id: str, session: SessionDep, user: CurrentUser) -> TrainingJobOut:
    return TrainingJobOut.model_validate(await service.get_job(session, user.id, _id(job_id)))


@router.get("/{job_id}/logs", response_model=list[LogLine])
async def logs(
    job_id: str,
    session: SessionDep,
    user: CurrentUser,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[LogLine]:
    lines = await service.logs(session, user.id, _id(job_id), after, limit)
    return [LogLine.model_validate(line) for line in lines]


@router.post("/{job_id}/cancel", status_code=202, response_model=TrainingJobOut)
async def cancel(job_id: str, session: SessionDep, user: CurrentUser) -> TrainingJobOut:
    return TrainingJobOut.model_validate(await service.cancel(session, user.id, _id(job_id)))
