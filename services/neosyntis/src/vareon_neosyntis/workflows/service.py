"""Workflow use cases: CRUD, runs, and the engine that moves a run's steps.

A run advances only in reaction to events (its own started / step-changed events, training
job outcomes, myntrix's deployment outcomes): ``advance`` locks the run, skips steps whose
upstream failed, starts the ready ones, and finishes the run when every step is done. A step
that finishes publishes ``WorkflowStepChangedV1``; consuming it advances the run again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis import idempotency
from vareon_chassis.auth import Principal
from vareon_chassis.errors import Conflict, DomainError, Forbidden, NotFound
from vareon_contracts.events.neosyntis import (
    WorkflowRunFinishedV1,
    WorkflowRunStartedV1,
    WorkflowStepChangedV1,
)

from vareon_neosyntis.datasets import service as datasets
from vareon_neosyntis.db import IDEMPOTENCY_KEYS, OUTBOX
from vareon_neosyntis.errors import InvalidRequest
from vareon_neosyntis.training import service as training
from vareon_neosyntis.workflows import dag, steps
from vareon_neosyntis.workflows.models import Workflow, WorkflowRun, WorkflowRunStep

log = structlog.get_logger(__name__)


DEPLOYMENTS_WRITE = "deployments:write"
RETRY_BATCH = 100
RUN_ACTION = "workflow-run"


def _definition(raw_steps: list[Any]) -> list[dict[str, Any]]:
    definition = dag.Definition(steps=raw_steps)
    try:
        dag.validate(definition)
    except dag.InvalidWorkflow as exc:
        raise InvalidRequest(str(exc), **exc.details) from None
    return [s.model_dump(mode="json") for s in definition.steps]


def _check_allowed(user: Principal, definition: list[dict[str, Any]]) -> None:
    """A step that asks myntrix to roll a model out needs what the deployment API needs."""
    if any(s["kind"] == "request_deployment" for s in definition) and not user.has(
        DEPLOYMENTS_WRITE
    ):
        raise Forbidden(f"a request_deployment step needs the permission {DEPLOYMENTS_WRITE!r}")


async def create(
    session: AsyncSession, user: Principal, name: str, description: str, raw: list[Any]
) -> Workflow:
    owner_id = user.id
    datasets.check_name(name, "workflow")
    definition = _definition(raw)
    _check_allowed(user, definition)
    exists = await session.scalar(
        select(Workflow.id).where(
            Workflow.owner_id == owner_id, Workflow.name == name, Workflow.deleted_at.is_(None)
        )
    )
    if exists:
        raise Conflict(f"a workflow named {name!r} already exists")
    now = datetime.now(UTC)
    workflow = Workflow(
        id=uuid.uuid4(),
        owner_id=owner_id,
        name=name,
        description=description,
        steps=definition,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    session.add(workflow)
    await session.flush()
    return workflow


async def get(session: AsyncSession, owner_id: uuid.UUID, workflow_id: uuid.UUID) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None or workflow.owner_id != owner_id or workflow.deleted_at is not None:
        raise NotFound(f"no workflow {workflow_id}")
    return workflow


async def list_all(session: AsyncSession, owner_id: uuid.UUID) -> list[Workflow]:
    return list(
        await session.scalars(
            select(Workflow)
            .where(Workflow.owner_id == owner_id, Workflow.deleted_at.is_(None))
            .order_by(Workflow.created_at.desc())
        )
    )


async def replace(
    session: AsyncSession,
    user: Principal,
    workflow_id: uuid.UUID,
    description: str,
    raw: list[Any],
) -> Workflow:
    definition = _definition(raw)
    _check_allowed(user, definition)
    workflow = await get(session, user.id, workflow_id)
    workflow.steps = definition
    workflow.description = description
    workflow.revision += 1
    workflow.updated_at = datetime.now(UTC)
    await session.flush()
    return workflow


async def delete(session: AsyncSession, owner_id: uuid.UUID, workflow_id: uuid.UUID) -> None:
    workflow = await get(session, owner_id, workflow_id)
    workflow.deleted_at = datetime.now(UTC)


# Runs ----------------------------------------------------------------------------------


async def start_run(
    session: AsyncSession,
    user: Principal,
    workflow_id: uuid.UUID,
    idempotency_key: str | None = None,
) -> tuple[WorkflowRun, bool]:
    """The run started, and whether it is an earlier one replayed for its Idempotency-Key
    (the quick action "run workflow W": a retry with the key starts nothing new)."""
    owner_id = user.id
    workflow = await get(session, owner_id, workflow_id)
    _check_allowed(user, workflow.steps)
    scope = idempotency.Scope(owner_id, RUN_ACTION, idempotency_key) if idempotency_key else None
    if scope is not None:
        request_hash = idempotency.fingerprint({"workflow_id": str(workflow_id)})
        earlier = await idempotency.claim(session, IDEMPOTENCY_KEYS, scope, request_hash)
        if earlier is not None:
            run, _ = await get_run(session, owner_id, uuid.UUID(earlier["run_id"]))
            return run, True
    run = await _new_run(session, user, workflow)
    if scope is not None:
        await idempotency.remember(session, IDEMPOTENCY_KEYS, scope, {"run_id": str(run.id)})
    return run, False


async def _new_run(session: AsyncSession, user: Principal, workflow: Workflow) -> WorkflowRun:
    owner_id = user.id
    now = datetime.now(UTC)
    run = WorkflowRun(
        id=uuid.uuid4(),
        workflow_id=workflow.id,
        workflow_revision=workflow.revision,
        owner_id=owner_id,
        state="running",
        requester_permissions=sorted(user.permissions),
        created_at=now,
    )
    session.add(run)
    await session.flush()
    for position, step in enumerate(workflow.steps):
        session.add(
            WorkflowRunStep(
                run_id=run.id,
                step_id=step["id"],
                position=position,
                kind=step["kind"],
                definition=step,
                state="pending",
                attempt=0,
                outputs={},
                retry_delay_s=step.get("retry_delay_s", 0),
            )
        )
    await session.flush()
    await OUTBOX.publish(
        session,
        WorkflowRunStartedV1(
            run_id=run.id, workflow_id=workflow.id, owner_id=owner_id, started_at=now
        ),
    )
    return run


async def get_run(
    session: AsyncSession, owner_id: uuid.UUID, run_id: uuid.UUID
) -> tuple[WorkflowRun, list[WorkflowRunStep]]:
    run = await session.get(WorkflowRun, run_id)
    if run is None or run.owner_id != owner_id:
        raise NotFound(f"no workflow run {run_id}")
    return run, await run_steps(session, run.id)


async def run_steps(session: AsyncSession, run_id: uuid.UUID) -> list[WorkflowRunStep]:
    return list(
        await session.scalars(
            select(WorkflowRunStep)
            .where(WorkflowRunStep.run_id == run_id)
            .order_by(WorkflowRunStep.position)
        )
    )


async def _set_step(
    session: AsyncSession, step: WorkflowRunStep, state: str, error: str | None = None
) -> None:
    now = datetime.now(UTC)
    step.state, step.error = state, error
    if state in dag.TERMINAL:
        step.finished_at = now
    await OUTBOX.publish(
        session,
        WorkflowStepChangedV1(
            run_id=step.run_id,
            step=step.step_id,
            kind=step.kind,
            state=state,
            attempt=step.attempt,
            error=error,
            changed_at=now,
        ),
    )


async def step_finished(
    session: AsyncSession,
    step: WorkflowRunStep,
    *,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Success (``error`` None) or failure; a failure with retries left waits and retries."""
    if step.state in dag.TERMINAL:
        return
    if error is None:
        step.outputs = {**step.outputs, **(outputs or {})}
        await _set_step(session, step, "succeeded")
        return
    retries = int(step.definition.get("retries", 0))
    if step.attempt <= retries:
        step.next_attempt_at = datetime.now(UTC) + timedelta(seconds=step.retry_delay_s)
        await _set_step(session, step, "retrying", error)
    else:
        await _set_step(session, step, "failed", error)


async def advance(session: AsyncSession, context: steps.Context, run_id: uuid.UUID) -> None:
    run = await session.scalar(
        select(WorkflowRun).where(WorkflowRun.id == run_id).with_for_update()
    )
    if run is None or run.state != "running":
        return
    found = await run_steps(session, run.id)
    by_id = {s.step_id: s for s in found}
    deps = {s.step_id: list(s.definition.get("depends_on", [])) for s in found}
    states = {s.step_id: s.state for s in found}
    for step_id in dag.doomed(states, deps):
        await _set_step(session, by_id[step_id], "skipped", "an upstream step did not succeed")
        states[step_id] = "skipped"
    for step_id in dag.ready(states, deps):
        step = by_id[step_id]
        step.attempt += 1
        step.started_at = datetime.now(UTC)
        step.next_attempt_at = None
        await _set_step(session, step, "running")
        try:
            async with session.begin_nested():
                result = await steps.execute(session, context, run, step, by_id)
        except (DomainError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, DomainError) else str(exc)
            await step_finished(session, step, error=detail)
        else:
            if result is not None:  # finished now; None: waits for an event
                await step_finished(session, step, outputs=result)
    result_state = dag.outcome({s.step_id: s.state for s in found})
    if result_state:
        await finish_run(session, run, result_state)


async def finish_run(session: AsyncSession, run: WorkflowRun, state: str) -> None:
    now = datetime.now(UTC)
    run.state, run.finished_at = state, now
    await OUTBOX.publish(
        session,
        WorkflowRunFinishedV1(
            run_id=run.id,
            workflow_id=run.workflow_id,
            owner_id=run.owner_id,
            state=state,
            finished_at=now,
        ),
    )


async def cancel_run(
    session: AsyncSession, owner_id: uuid.UUID, run_id: uuid.UUID
) -> tuple[WorkflowRun, list[WorkflowRunStep]]:
    run = await session.scalar(
        select(WorkflowRun).where(WorkflowRun.id == run_id).with_for_update()
    )
    if run is None or run.owner_id != owner_id:
        raise NotFound(f"no workflow run {run_id}")
    if run.state != "running":
        raise Conflict(f"the run is already {run.state}", state=run.state)
    found = await run_steps(session, run.id)
    for step in found:
        if step.state in dag.TERMINAL:
            continue
        if step.kind == "train" and step.training_job_id and step.state == "running":
            job = await training.get_job(session, owner_id, step.training_job_id, lock=True)
            if job.finished_at is None:
                await training.cancel(session, owner_id, job.id)
        await _set_step(session, step, "cancelled")
    await finish_run(session, run, "cancelled")
    return run, found


async def on_training_outcome(
    session: AsyncSession,
    job_id: uuid.UUID,
    outputs: dict[str, Any] | None,
    error: str | None,
) -> None:
    step = await session.scalar(
        select(WorkflowRunStep).where(WorkflowRunStep.training_job_id == job_id)
    )
    if step is None or step.state != "running":
        return
    await session.execute(
        select(WorkflowRun.id).where(WorkflowRun.id == step.run_id).with_for_update()
    )
    await step_finished(session, step, outputs=outputs, error=error)


async def on_deployment_outcome(
    session: AsyncSession, deployment_id: uuid.UUID, error: str | None, outputs: dict[str, Any]
) -> None:
    step = await session.scalar(
        select(WorkflowRunStep).where(WorkflowRunStep.deployment_id == deployment_id)
    )
    if step is None or step.state != "running":
        return
    await session.execute(
        select(WorkflowRun.id).where(WorkflowRun.id == step.run_id).with_for_update()
    )
    await step_finished(session, step, outputs=outputs, error=error)


async def retry_due_steps(app: Any) -> bool:
    """The app's periodic step: steps whose retry delay passed go back to pending (and the
    event that says so makes the engine run them again). True when a full batch was due."""
    async with app.state.sessionmaker.begin() as session:
        due = list(
            await session.scalars(
                select(WorkflowRunStep)
                .where(
                    WorkflowRunStep.state == "retrying",
                    WorkflowRunStep.next_attempt_at <= func.now(),
                )
                .limit(RETRY_BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for step in due:
            await _set_step(session, step, "pending")
    return len(due) >= RETRY_BATCH
