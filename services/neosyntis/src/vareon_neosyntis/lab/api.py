"""Open-lab routes: predefined operations; long ones answer 202 with an operation to poll."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import NotFound, problem_response

from vareon_neosyntis.errors import InvalidRequest
from vareon_neosyntis.lab import service
from vareon_neosyntis.lab.schemas import (
    BaselineIn,
    CompareIn,
    DatasetRef,
    OperationOut,
    PreviewIn,
    PreviewOut,
)

MISSING: dict[int | str, dict[str, Any]] = {
    404: problem_response("A dataset or model it names does not exist")
}
router = APIRouter(prefix="/api/v1/neosyntis/open-lab", tags=["open-lab"])


@router.post("/preview", response_model=PreviewOut, responses=MISSING)
async def preview(
    body: PreviewIn, request: Request, session: SessionDep, user: CurrentUser
) -> PreviewOut:
    limit = min(body.limit, request.app.state.settings.lab_preview_max_rows)
    app = request.app
    version, rows = await service.preview(
        session,
        app.state.storage,
        app.state.readers,
        user.id,
        body.dataset,
        body.version,
        limit,
        app.state.settings.reader_max_bytes,
    )
    return PreviewOut(
        dataset=body.dataset, version=version.version, columns=version.columns, rows=rows
    )


async def _start(
    request: Request,
    session: SessionDep,
    user_id: uuid.UUID,
    ref: DatasetRef,
    operation: str,
    parameters: dict[str, Any],
) -> JSONResponse:
    op, must_run = await service.start(
        session,
        user_id,
        ref.dataset,
        ref.version,
        operation,
        parameters,
        max_running=request.app.state.settings.lab_max_running_per_user,
    )
    body = OperationOut.model_validate(op).model_dump(mode="json")
    if must_run:
        # After the commit (the session dependency commits before the response is sent).
        await session.commit()
        app = request.app
        task = asyncio.create_task(
            service.run(
                app.state.sessionmaker,
                app.state.storage,
                app.state.readers,
                op.id,
                app.state.settings.lab_max_rows,
                app.state.settings.reader_max_bytes,
            )
        )
        app.state.lab_tasks.add(task)
        task.add_done_callback(app.state.lab_tasks.discard)
    return JSONResponse(
        body, status_code=202, headers={"Location": f"{router.prefix}/operations/{op.id}"}
    )


@router.post("/profile", status_code=202, response_model=OperationOut, responses=MISSING)
async def profile(
    body: DatasetRef, request: Request, session: SessionDep, user: CurrentUser
) -> JSONResponse:
    return await _start(request, session, user.id, body, "profile", {})


@router.post("/baseline", status_code=202, response_model=OperationOut, responses=MISSING)
async def baseline(
    body: BaselineIn, request: Request, session: SessionDep, user: CurrentUser
) -> JSONResponse:
    max_folds = request.app.state.settings.lab_max_folds
    if body.folds > max_folds:
        raise InvalidRequest(f"at most {max_folds} folds")
    return await _start(
        request, session, user.id, body, "baseline", {"target": body.target, "folds": body.folds}
    )


@router.get("/operations/{op_id}", response_model=OperationOut)
async def operation(op_id: str, session: SessionDep, user: CurrentUser) -> OperationOut:
    try:
        parsed = uuid.UUID(op_id)
    except ValueError:
        raise NotFound(f"no operation {op_id}") from None
    return OperationOut.model_validate(await service.get_operation(session, user.id, parsed))


@router.post("/compare", responses=MISSING)
async def compare(body: CompareIn, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return await service.compare(session, user.id, body.model, body.versions)
