"""Event handlers: identity's user deletion erases that user's data here; the wallet's
balances feed the admission replica; workflow runs advance on their own events, training job
outcomes and myntrix's deployment outcomes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_contracts import Envelope, topics
from vareon_contracts.events.identity import UserDeletedV1
from vareon_contracts.events.myntrix import (
    DeploymentAbortedV1,
    DeploymentFailedV1,
    DeploymentSucceededV1,
)
from vareon_contracts.events.neosyntis import (
    TrainingJobCancelledV1,
    TrainingJobCompletedV1,
    TrainingJobFailedV1,
    WorkflowRunStartedV1,
    WorkflowStepChangedV1,
)
from vareon_contracts.events.wallet import BalanceChangedV1

from vareon_neosyntis.erasure import erase_user
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.storage import Storage
from vareon_neosyntis.training import credits
from vareon_neosyntis.workflows import service as workflows
from vareon_neosyntis.workflows.steps import Context


def build_consumers(storage: Storage, settings: NeosyntisSettings) -> list[EventConsumer]:
    users = EventConsumer(name="neosyntis.users", topics=(topics.IDENTITY_USER,))

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await erase_user(session, storage, event.user_id)
        await credits.forget_balance(session, event.user_id)

    balances = EventConsumer(name="neosyntis.balances", topics=(topics.WALLET_BALANCE,))

    @balances.on(BalanceChangedV1)
    async def balance_changed(
        session: AsyncSession, event: BalanceChangedV1, envelope: Envelope
    ) -> None:
        await credits.apply_balance(session, event, envelope.time)

    runs = EventConsumer(
        name="neosyntis.workflow-runs",
        topics=(
            topics.NEOSYNTIS_WORKFLOW_RUN,
            topics.NEOSYNTIS_TRAINING_JOB,
            topics.MYNTRIX_DEPLOYMENT,
        ),
    )
    context = Context(storage, settings)

    @runs.on(WorkflowRunStartedV1)
    async def run_started(
        session: AsyncSession, event: WorkflowRunStartedV1, envelope: Envelope
    ) -> None:
        await workflows.advance(session, context, event.run_id)

    @runs.on(WorkflowStepChangedV1)
    async def step_changed(
        session: AsyncSession, event: WorkflowStepChangedV1, envelope: Envelope
    ) -> None:
        if event.state in ("succeeded", "failed", "skipped", "pending"):
            await workflows.advance(session, context, event.run_id)

    @runs.on(TrainingJobCompletedV1)
    async def job_completed(
        session: AsyncSession, event: TrainingJobCompletedV1, envelope: Envelope
    ) -> None:
        if event.workflow_run_id is not None:
            outputs = {
                "training_job_id": str(event.job_id),
                "metrics": event.metrics,
                "artifact_uri": event.artifact_uri,
                "artifact_digest": event.artifact_digest,
            }
            await workflows.on_training_outcome(session, event.job_id, outputs, None)

    @runs.on(TrainingJobFailedV1)
    async def job_failed(
        session: AsyncSession, event: TrainingJobFailedV1, envelope: Envelope
    ) -> None:
        if event.workflow_run_id is not None:
            error = f"training job {event.job_id} failed ({event.reason}): {event.error}"
            await workflows.on_training_outcome(session, event.job_id, None, error)

    @runs.on(TrainingJobCancelledV1)
    async def job_cancelled(
        session: AsyncSession, event: TrainingJobCancelledV1, envelope: Envelope
    ) -> None:
        if event.workflow_run_id is not None:
            error = f"training job {event.job_id} was cancelled"
            await workflows.on_training_outcome(session, event.job_id, None, error)

    @runs.on(DeploymentSucceededV1)
    async def deployed(
        session: AsyncSession, event: DeploymentSucceededV1, envelope: Envelope
    ) -> None:
        outputs = {"deployment_id": str(event.deployment_id), "succeeded": event.succeeded}
        await workflows.on_deployment_outcome(session, event.deployment_id, None, outputs)

    @runs.on(DeploymentFailedV1)
    async def deployment_failed(
        session: AsyncSession, event: DeploymentFailedV1, envelope: Envelope
    ) -> None:
        error = f"deployment {event.deployment_id} failed: {event.reason}"
        await workflows.on_deployment_outcome(session, event.deployment_id, error, {})

    @runs.on(DeploymentAbortedV1)
    async def deployment_aborted(
        session: AsyncSession, event: DeploymentAbortedV1, envelope: Envelope
    ) -> None:
        error = f"deployment {event.deployment_id} was aborted"
        await workflows.on_deployment_outcome(session, event.deployment_id, error, {})

    return [users, balances, runs]
