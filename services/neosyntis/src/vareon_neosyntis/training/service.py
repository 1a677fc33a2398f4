"""Training job use cases for the HTTP API: submit (reserving a budget), read, cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.errors import Forbidden, NotFound
from vareon_chassis.pagination import decode_cursor

from vareon_neosyntis.datasets import service as datasets
from vareon_neosyntis.errors import InvalidRequest
from vareon_neosyntis.registry.models import Model
from vareon_neosyntis.training import algorithms, credits
from vareon_neosyntis.training.leases import finish_cancelled, publish_queued
from vareon_neosyntis.training.models import TrainingJob, TrainingJobLog
from vareon_neosyntis.training.states import JobState, on_cancel


def validate_algorithm(name: str, hyperparameters: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    algorithm = algorithms.CATALOGUE.get(name)
    if algorithm is None:
        raise InvalidRequest(f"unknown algorithm {name!r}", algorithms=sorted(algorithms.CATALOGUE))
    try:
        params = algorithm.params.model_validate(hyperparameters)
    except ValidationError as exc:
        errors = [
            {"loc": ["hyperparameters", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        raise InvalidRequest(f"invalid hyperparameters for {name}", errors=errors) from None
    return algorithm, params.model_dump()


async def submit(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    dataset: str,
    dataset_version: int,
    target: str,
    algorithm: str,
    hyperparameters: dict[str, Any],
    budget_micro: int,
    model_name: str | None,
    test_fraction: float,
    seed: int,
    price_micro_per_cpu_s: int,
    max_attempts: int,
    workflow_run_id: uuid.UUID | None = None,
    workflow_step: str | None = None,
) -> TrainingJob:
    chosen, params = validate_algorithm(algorithm, hyperparameters)
    _, version = await datasets.get_version(session, owner_id, dataset, dataset_version)
    try:
        algorithms.check_target(chosen, version.columns, target)
    except algorithms.TrainingError as exc:
        raise InvalidRequest(str(exc), column=target) from None
    if model_name is not None:
        datasets.check_name(model_name, "model")
        owner = await session.scalar(select(Model.owner_id).where(Model.name == model_name))
        if owner is not None and owner != owner_id:
            raise Forbidden(f"model {model_name!r} belongs to someone else")
    await credits.admit(session, owner_id, budget_micro)
    job = TrainingJob(
        id=uuid.uuid4(),
        owner_id=owner_id,
        dataset_version_id=version.id,
        dataset_digest=version.sha256,
        target=target,
        algorithm=algorithm,
        hyperparameters=params,
        test_fraction=test_fraction,
        seed=seed,
        model_name=model_name,
        state=JobState.QUEUED,
        progress=0.0,
        budget_micro=budget_micro,
        price_micro_per_cpu_s=price_micro_per_cpu_s,
        cpu_seconds=0.0,
        cost_micro=0,
        charged_micro=0,
        admitted=True,
        attempts=0,
        max_attempts=max_attempts,
        fencing_token=0,
        workflow_run_id=workflow_run_id,
        workflow_step=workflow_step,
        created_at=datetime.now(UTC),
    )
    session.add(job)
    await session.flush()
    await publish_queued(session, job)
    return job


async def get_job(
    session: AsyncSession, owner_id: uuid.UUID, job_id: uuid.UUID, *, lock: bool = False
) -> TrainingJob:
    query = select(TrainingJob).where(TrainingJob.id == job_id)
    job = await session.scalar(query.with_for_update() if lock else query)
    if job is None or job.owner_id != owner_id:
        raise NotFound(f"no training job {job_id}")
    return job


async def list_jobs(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    state: str | None,
) -> list[TrainingJob]:
    query = (
        select(TrainingJob)
        .where(TrainingJob.owner_id == owner_id)
        .order_by(TrainingJob.created_at.desc(), TrainingJob.id.desc())
        .limit(limit)
    )
    if state:
        query = query.where(TrainingJob.state == state)
    if (after := decode_cursor(cursor, datetime, uuid.UUID)) is not None:
        created_at, id_ = after
        query = query.where(
            or_(
                TrainingJob.created_at < created_at,
                and_(TrainingJob.created_at == created_at, TrainingJob.id < id_),
            )
        )
    return list(await session.scalars(query))


async def logs(
    session: AsyncSession, owner_id: uuid.UUID, job_id: uuid.UUID, after: int, limit: int
) -> list[TrainingJobLog]:
    await get_job(session, owner_id, job_id)
    return list(
        await session.scalars(
            select(TrainingJobLog)
            .where(TrainingJobLog.job_id == job_id, TrainingJobLog.id > after)
            .order_by(TrainingJobLog.id)
            .limit(limit)
        )
    )


async def cancel(session: AsyncSession, owner_id: uuid.UUID, job_id: uuid.UUID) -> TrainingJob:
    """Queued or crashed: cancelled at once. Running: ``cancelling`` until its worker stops
    (or its lease expires). Finished: 409."""
    job = await get_job(session, owner_id, job_id, lock=True)
    target = on_cancel(job.state)
    if target == JobState.CANCELLED:
        await finish_cancelled(session, job)
    elif job.state != target:
        job.state = target
        session.add(
            TrainingJobLog(
                job_id=job.id, fencing_token=job.fencing_token, message="cancel requested"
            )
        )
    await session.flush()
    return job
