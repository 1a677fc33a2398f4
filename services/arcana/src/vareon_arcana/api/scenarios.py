"""Synthetic testing over HTTP: scenarios (CRUD), their runs (start, progress, cancel) and
comparisons of two runs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Request, Response, status
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize

from vareon_arcana.api.deps import CallerDep
from vareon_arcana.scenarios import catalog, runs
from vareon_arcana.scenarios.models import Scenario, ScenarioResult, ScenarioRun
from vareon_arcana.scenarios.schemas import (
    Comparison,
    ResultOut,
    RunCreate,
    RunOut,
    RunPage,
    ScenarioOut,
    ScenarioPage,
    ScenarioSpec,
)
from vareon_arcana.scenarios.worker import ScenarioWorker

router = APIRouter(prefix="/api/v1/arcana/scenarios", tags=["scenarios"])
FINISHED: dict[int | str, dict[str, Any]] = {
    409: problem_response("The run has already completed or been cancelled")
}


def render(scenario: Scenario) -> ScenarioOut:
    return ScenarioOut.model_validate(
        scenario.spec
        | {"id": scenario.id, "created_at": scenario.created_at, "updated_at": scenario.updated_at}
    )


def render_run(run: ScenarioRun, results: list[ScenarioResult] | None = None) -> RunOut:
    return RunOut(
        id=run.id,
        scenario_id=run.scenario_id,
        status=run.status,
        charge=run.charge,
        persona_version=runs.version_of(run),
        total=run.total,
        done=run.done,
        passed=run.passed,
        failed=run.failed,
        eta_s=runs.eta_s(run),
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        results=[ResultOut.model_validate(r, from_attributes=True) for r in results or []],
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScenarioOut)
async def create_scenario(body: ScenarioSpec, caller: CallerDep, db: SessionDep) -> ScenarioOut:
    """A persona named must be one you may use (404 persona-not-found)."""
    return render(await catalog.create(db, caller, body))


@router.get("", response_model=ScenarioPage)
async def list_scenarios(
    caller: CallerDep, db: SessionDep, limit: PageSize = 20, cursor: Cursor = None
) -> ScenarioPage:
    """Your scenarios, newest first."""
    rows, next_cursor = await catalog.page(db, caller, limit=limit, cursor=cursor)
    return ScenarioPage(items=[render(s) for s in rows], next_cursor=next_cursor)


@router.get("/{scenario_id}", response_model=ScenarioOut)
async def get_scenario(scenario_id: uuid.UUID, caller: CallerDep, db: SessionDep) -> ScenarioOut:
    return render(await catalog.owned(db, caller, scenario_id))


@router.put("/{scenario_id}", response_model=ScenarioOut)
async def replace_scenario(
    scenario_id: uuid.UUID, body: ScenarioSpec, caller: CallerDep, db: SessionDep
) -> ScenarioOut:
    """Runs already made keep what they played."""
    return render(await catalog.replace_spec(db, caller, scenario_id, body))


@router.delete("/{scenario_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_scenario(scenario_id: uuid.UUID, caller: CallerDep, db: SessionDep) -> Response:
    """Its runs and results go with it."""
    await catalog.remove(db, caller, scenario_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{scenario_id}/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses={409: problem_response("As many of your runs as allowed are queued or running")},
)
async def start_run(
    scenario_id: uuid.UUID,
    caller: CallerDep,
    db: SessionDep,
    request: Request,
    tasks: BackgroundTasks,
    body: Annotated[RunCreate | None, Body()] = None,
) -> RunOut:
    """Queued, then played in the background; follow it at ``GET .../runs/{id}``. Not
    charged to your wallet unless ``charge`` is true."""
    worker: ScenarioWorker = request.app.state.scenario_worker
    run = await runs.start(
        db,
        caller,
        scenario_id,
        charge=(body or RunCreate()).charge,
        active_limit=worker.active_runs,
    )
    tasks.add_task(worker.wake)  # background tasks run after the commit
    return render_run(run)


@router.get("/{scenario_id}/runs", response_model=RunPage)
async def list_runs(
    scenario_id: uuid.UUID, caller: CallerDep, db: SessionDep, limit: PageSize = 20
) -> RunPage:
    """The newest runs first, without their results."""
    found = await runs.recent(db, caller, scenario_id, limit=limit)
    return RunPage(items=[render_run(r) for r in found])


@router.get("/{scenario_id}/runs/{run_id}", response_model=RunOut)
async def get_run(
    scenario_id: uuid.UUID, run_id: uuid.UUID, caller: CallerDep, db: SessionDep
) -> RunOut:
    """Progress (done, passed, failed, ETA) and every conversation recorded so far."""
    run = await runs.owned(db, caller, scenario_id, run_id)
    return render_run(run, await runs.results(db, run.id))


@router.post("/{scenario_id}/runs/{run_id}/cancel", response_model=RunOut, responses=FINISHED)
async def cancel_run(
    scenario_id: uuid.UUID, run_id: uuid.UUID, caller: CallerDep, db: SessionDep
) -> RunOut:
    """No further conversation starts; one being played is still recorded."""
    return render_run(await runs.cancel(db, caller, scenario_id, run_id))


@router.get("/{scenario_id}/runs/{a}/compare/{b}", response_model=Comparison)
async def compare_runs(
    scenario_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID, caller: CallerDep, db: SessionDep
) -> Comparison:
    """What changed per conversation from run ``a`` to run ``b`` (by conversation name)."""
    return Comparison.model_validate(await runs.compare(db, caller, scenario_id, a, b))
