"""Workflow routes: CRUD and runs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import NotFound, problem_response
from vareon_chassis.idempotency import REPLAYED_HEADER, IdempotencyKey

from vareon_neosyntis.workflows import service
from vareon_neosyntis.workflows.models import WorkflowRun, WorkflowRunStep
from vareon_neosyntis.workflows.schemas import RunOut, StepOut, WorkflowIn, WorkflowOut

router = APIRouter(prefix="/api/v1/neosyntis/workflows", tags=["workflows"])


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {what} {value}") from None


def _run(run: WorkflowRun, steps: list[WorkflowRunStep]) -> RunOut:
    return RunOut(
        id=run.id,
        workflow_id=run.workflow_id,
        workflow_revision=run.workflow_revision,
        state=run.state,
        created_at=run.created_at,
        finished_at=run.finished_at,
        steps=[StepOut.model_validate(s) for s in steps],
    )


@router.post(
    "",
    status_code=201,
    response_model=WorkflowOut,
    responses={409: problem_response("A workflow of that name exists")},
)
async def create(body: WorkflowIn, session: SessionDep, user: CurrentUser) -> WorkflowOut:
    workflow = await service.create(session, user, body.name, body.description, body.steps)
    return WorkflowOut.model_validate(workflow)


@router.get("", response_model=list[WorkflowOut])
async def list_all(session: SessionDep, user: CurrentUser) -> list[WorkflowOut]:
    return [WorkflowOut.model_validate(w) for w in await service.list_all(session, user.id)]


@router.get("/{workflow_id}", response_model=WorkflowOut)
async def get(workflow_id: str, session: SessionDep, user: CurrentUser) -> WorkflowOut:
    workflow = await service.get(session, user.id, _id(workflow_id, "workflow"))
    return WorkflowOut.model_validate(workflow)


@router.put(
    "/{workflow_id}",
    response_model=WorkflowOut,
    responses={409: problem_response("A workflow of that name exists")},
)
async def replace(
    workflow_id: str, body: WorkflowIn, session: SessionDep, user: CurrentUser
) -> WorkflowOut:
    workflow = await service.replace(
        session, user, _id(workflow_id, "workflow"), body.description, body.steps
    )
    return WorkflowOut.model_validate(workflow)


@router.delete("/{workflow_id}", status_code=204)
async def delete(workflow_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user.id, _id(workflow_id, "workflow"))
    return Response(status_code=204)


@router.post(
    "/{workflow_id}/runs",
    status_code=201,
    response_model=RunOut,
    responses={409: problem_response("The Idempotency-Key started a run of another workflow")},
)
async def start_run(
    workflow_id: str,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RunOut:
    """The quick action "run workflow W": with an ``Idempotency-Key`` a retry gets the same
    run back (``Idempotent-Replayed: true``) and starts nothing."""
    run, replayed = await service.start_run(
        session, user, _id(workflow_id, "workflow"), idempotency_key
    )
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return _run(run, await service.run_steps(session, run.id))


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: str, session: SessionDep, user: CurrentUser) -> RunOut:
    return _run(*await service.get_run(session, user.id, _id(run_id, "workflow run")))


@router.post(
    "/runs/{run_id}/cancel",
    response_model=RunOut,
    responses={409: problem_response("The run has already finished")},
)
async def cancel_run(run_id: str, session: SessionDep, user: CurrentUser) -> RunOut:
    return _run(*await service.cancel_run(session, user.id, _id(run_id, "workflow run")))
