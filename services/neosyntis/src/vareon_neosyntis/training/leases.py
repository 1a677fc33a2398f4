"""Workers' side of the job table: claims with a lease and a fencing token, heartbeats,
fenced writes, and the sweeper for expired leases. No FastAPI, no broker.

Every write a worker makes is conditional on ``fencing_token = <its token>`` and on the job
still being leased (running or cancelling): the token is bumped on every claim, so a worker
that lost its lease (paused, partitioned, presumed dead) writes nothing, ever. Times come
from the database clock, so workers' clocks do not matter.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts.events.neosyntis import (
    TrainingJobCancelledV1,
    TrainingJobCompletedV1,
    TrainingJobCrashedV1,
    TrainingJobFailedV1,
    TrainingJobProgressedV1,
    TrainingJobQueuedV1,
    TrainingJobStartedV1,
    TrainingUsageRecordedV1,
)

from vareon_neosyntis.db import OUTBOX
from vareon_neosyntis.training.models import TrainingJob, TrainingJobLog
from vareon_neosyntis.training.states import ACTIVE, JobState, check

Sessions = async_sessionmaker[AsyncSession]
SWEEP_BATCH = 100


def cost_of(cpu_seconds: float, price_micro_per_cpu_s: int, budget_micro: int) -> int:
    return min(budget_micro, math.ceil(cpu_seconds * price_micro_per_cpu_s))


async def charge(session: AsyncSession, job: TrainingJob) -> None:
    """Announce the part of the job's cost not charged yet (in the caller's transaction)."""
    due = job.cost_micro - job.charged_micro
    if due <= 0:
        return
    job.charged_micro = job.cost_micro
    now = await session.scalar(select(func.clock_timestamp()))
    await OUTBOX.publish(
        session,
        TrainingUsageRecordedV1(
            usage_id=uuid.uuid4(),
            job_id=job.id,
            user_id=job.owner_id,
            cpu_seconds=round(job.cpu_seconds, 6),
            cost=due,
            recorded_at=now,
        ),
    )


async def publish_queued(session: AsyncSession, job: TrainingJob) -> None:
    await OUTBOX.publish(
        session,
        TrainingJobQueuedV1(
            job_id=job.id,
            owner_id=job.owner_id,
            dataset_version_id=job.dataset_version_id or uuid.UUID(int=0),
            algorithm=job.algorithm,
            target=job.target,
            budget_micro=job.budget_micro,
            attempt=job.attempts + 1,
            queued_at=await session.scalar(select(func.clock_timestamp())),
        ),
    )


async def finish_cancelled(session: AsyncSession, job: TrainingJob) -> None:
    now = await session.scalar(select(func.clock_timestamp()))
    job.state = check(job.state, JobState.CANCELLED)
    job.finished_at = now
    job.lease_owner = job.lease_expires_at = None
    await charge(session, job)
    await OUTBOX.publish(
        session,
        TrainingJobCancelledV1(
            job_id=job.id,
            owner_id=job.owner_id,
            cost_micro=job.cost_micro,
            workflow_run_id=job.workflow_run_id,
            cancelled_at=now,
        ),
    )


async def finish_failed(session: AsyncSession, job: TrainingJob, reason: str, error: str) -> None:
    now = await session.scalar(select(func.clock_timestamp()))
    job.state = check(job.state, JobState.FAILED)
    job.failure_reason, job.error, job.finished_at = reason, error, now
    job.lease_owner = job.lease_expires_at = None
    await charge(session, job)
    await OUTBOX.publish(
        session,
        TrainingJobFailedV1(
            job_id=job.id,
            owner_id=job.owner_id,
            reason=reason,
            error=error,
            cost_micro=job.cost_micro,
            workflow_run_id=job.workflow_run_id,
            failed_at=now,
        ),
    )


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    token: int
    attempt: int


async def claim(sessions: Sessions, worker: str, lease_s: float) -> Claim | None:
    """Take the oldest queued job: lease it and bump its fencing token, in one statement."""
    oldest = (
        select(TrainingJob.id)
        .where(TrainingJob.state == JobState.QUEUED)
        .order_by(TrainingJob.created_at, TrainingJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with sessions.begin() as session:
        now = func.clock_timestamp()
        job = await session.scalar(
            update(TrainingJob)
            .where(TrainingJob.id == oldest, TrainingJob.state == JobState.QUEUED)
            .values(
                state=JobState.RUNNING,
                lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=lease_s),
                fencing_token=TrainingJob.fencing_token + 1,
                attempts=TrainingJob.attempts + 1,
                started_at=func.coalesce(TrainingJob.started_at, now),
            )
            .returning(TrainingJob)
        )
        if job is None:
            return None
        session.add(
            TrainingJobLog(
                job_id=job.id,
                fencing_token=job.fencing_token,
                message=f"attempt {job.attempts} claimed by {worker}",
            )
        )
        await OUTBOX.publish(
            session,
            TrainingJobStartedV1(
                job_id=job.id,
                owner_id=job.owner_id,
                worker=worker,
                attempt=job.attempts,
                fencing_token=job.fencing_token,
                started_at=job.started_at,
            ),
        )
        return Claim(job.id, job.fencing_token, job.attempts)


class Fence:
    """A worker's writes to one job, each conditional on its fencing token."""

    def __init__(self, sessions: Sessions, job_id: uuid.UUID, token: int, lease_s: float) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.token = token
        self.lease_s = lease_s

    async def _locked(self, session: AsyncSession) -> TrainingJob | None:
        return await session.scalar(
            select(TrainingJob)
            .where(
                TrainingJob.id == self.job_id,
                TrainingJob.fencing_token == self.token,
                TrainingJob.state.in_(ACTIVE),
            )
            .with_for_update()
        )

    async def heartbeat(self) -> JobState | None:
        """Renew the lease; the job's state (``cancelling`` asks to stop), None if lost."""
        async with self.sessions.begin() as session:
            state = await session.scalar(
                update(TrainingJob)
                .where(
                    TrainingJob.id == self.job_id,
                    TrainingJob.fencing_token == self.token,
                    TrainingJob.state.in_(ACTIVE),
                )
                .values(lease_expires_at=func.clock_timestamp() + timedelta(seconds=self.lease_s))
                .returning(TrainingJob.state)
            )
        return JobState(state) if state is not None else None

    async def _write(
        self, change: Callable[[AsyncSession, TrainingJob], Awaitable[Any]], log: str | None
    ) -> TrainingJob | None:
        async with self.sessions.begin() as session:
            job = await self._locked(session)
            if job is None:
                return None
            await change(session, job)
            if log:
                session.add(TrainingJobLog(job_id=job.id, fencing_token=self.token, message=log))
            return job

    async def log(self, message: str) -> bool:
        async def nothing(session: AsyncSession, job: TrainingJob) -> None:
            return None

        return await self._write(nothing, message) is not None

    async def progress(
        self, fraction: float, cpu_seconds: float, log: str | None = None
    ) -> JobState | None:
        """Record progress and the compute used so far; the state after, None if lost."""

        async def change(session: AsyncSession, job: TrainingJob) -> None:
            before = job.progress
            job.progress = round(fraction, 4)
            job.cpu_seconds = cpu_seconds
            job.cost_micro = cost_of(cpu_seconds, job.price_micro_per_cpu_s, job.budget_micro)
            if int(before * 10) != int(job.progress * 10):
                await OUTBOX.publish(
                    session,
                    TrainingJobProgressedV1(
                        job_id=job.id,
                        progress=job.progress,
                        cost_micro=job.cost_micro,
                        progressed_at=await session.scalar(select(func.clock_timestamp())),
                    ),
                )

        job = await self._write(change, log)
        return JobState(job.state) if job is not None else None

    async def fail(self, reason: str, error: str) -> bool:
        async def change(session: AsyncSession, job: TrainingJob) -> None:
            if job.state == JobState.CANCELLING:
                await finish_cancelled(session, job)
            else:
                await finish_failed(session, job, reason, error)

        return await self._write(change, f"failed ({reason}): {error}") is not None

    async def cancelled(self) -> bool:
        async def change(session: AsyncSession, job: TrainingJob) -> None:
            await finish_cancelled(session, job)

        return await self._write(change, "stopped: cancelled") is not None

    async def complete(
        self,
        metrics: dict[str, float],
        artifact_uri: str,
        artifact_digest: str,
        register: Callable[[AsyncSession, TrainingJob], Awaitable[int | None]],
    ) -> bool:
        """Store the results and register the model version, all or nothing."""

        async def change(session: AsyncSession, job: TrainingJob) -> None:
            if job.state == JobState.CANCELLING:
                await finish_cancelled(session, job)
                return
            now = await session.scalar(select(func.clock_timestamp()))
            job.metrics, job.artifact_uri, job.artifact_digest = (
                metrics,
                artifact_uri,
                artifact_digest,
            )
            job.model_version = await register(session, job)
            job.state = check(job.state, JobState.SUCCEEDED)
            job.progress, job.finished_at = 1.0, now
            job.lease_owner = job.lease_expires_at = None
            await charge(session, job)
            await OUTBOX.publish(
                session,
                TrainingJobCompletedV1(
                    job_id=job.id,
                    owner_id=job.owner_id,
                    metrics=metrics,
                    artifact_uri=artifact_uri,
                    artifact_digest=artifact_digest,
                    model_name=job.model_name,
                    model_version=job.model_version,
                    cost_micro=job.cost_micro,
                    workflow_run_id=job.workflow_run_id,
                    completed_at=now,
                ),
            )

        return await self._write(change, "finished") is not None


async def sweep(sessions: Sessions, limit: int = SWEEP_BATCH) -> int:
    """Jobs whose lease expired: a cancelling one is cancelled; a running one crashed and is
    queued again while attempts remain (else it fails). Returns how many were swept."""
    async with sessions.begin() as session:
        jobs = list(
            await session.scalars(
                select(TrainingJob)
                .where(
                    TrainingJob.state.in_(ACTIVE),
                    TrainingJob.lease_expires_at < func.clock_timestamp(),
                )
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for job in jobs:
            token, owner = job.fencing_token, job.lease_owner
            if job.state == JobState.CANCELLING:
                await finish_cancelled(session, job)
                message = f"lease of {owner} expired while cancelling: cancelled"
            else:
                await _crash(session, job)
                message = f"lease of {owner} expired: crashed (attempt {job.attempts})"
            session.add(TrainingJobLog(job_id=job.id, fencing_token=token, message=message))
        return len(jobs)


async def _crash(session: AsyncSession, job: TrainingJob) -> None:
    now = await session.scalar(select(func.clock_timestamp()))
    job.state = check(job.state, JobState.CRASHED)
    job.lease_owner = job.lease_expires_at = None
    retry = job.attempts < job.max_attempts
    await charge(session, job)  # the compute the lost attempt reported
    await OUTBOX.publish(
        session,
        TrainingJobCrashedV1(
            job_id=job.id,
            owner_id=job.owner_id,
            attempt=job.attempts,
            fencing_token=job.fencing_token,
            will_retry=retry,
            crashed_at=now,
        ),
    )
    if retry:
        job.state = check(job.state, JobState.QUEUED)
        job.progress = 0.0
        await publish_queued(session, job)
    else:
        await finish_failed(
            session, job, "attempts-exhausted", f"the worker was lost {job.attempts} times"
        )


async def sweep_expired(app: Any) -> bool:
    """The app's periodic lease sweep: expired leases are noticed even when every worker is
    gone. True when a full batch was swept (more may wait)."""
    return await sweep(app.state.sessionmaker) >= SWEEP_BATCH
