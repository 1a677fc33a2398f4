"""Model deployments: staged rollouts of a registered version over devices."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import Principal, require_any, require_permission
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.idempotency import REPLAYED_HEADER, RequiredIdempotencyKey
from vareon_chassis.pagination import Cursor, PageSize, encode_cursor

from vareon_myntrix import deployments
from vareon_myntrix.api.deps import (
    DEPLOYMENTS_WRITE,
    DEVICES_READ,
    PREFIX,
    policy,
)
from vareon_myntrix.models import Deployment
from vareon_myntrix.rollout import DeploymentState
from vareon_myntrix.schemas import (
    DeploymentIn,
    DeploymentOut,
    DeploymentPage,
    MyDevicesDeploymentIn,
    TargetOut,
)

router = APIRouter(prefix=PREFIX + "/deployments", tags=["deployments"])
READERS = (DEVICES_READ, DEPLOYMENTS_WRITE)


async def _out(session: AsyncSession, deployment: Deployment) -> DeploymentOut:
    out = DeploymentOut.model_validate(deployment)
    out.targets = [
        TargetOut.model_validate(t) for t in await deployments.targets(session, deployment.id)
    ]
    return out


@router.post("", status_code=status.HTTP_201_CREATED)
async def deploy(
    request: Request,
    session: SessionDep,
    body: DeploymentIn,
    user: Principal = require_permission(DEPLOYMENTS_WRITE),
) -> DeploymentOut:
    """Roll a registered model version (or an alias's) out to devices, batch by batch.

    Devices in maintenance, retired, offline or pinned to another version are skipped and
    reported in ``targets``. The rollout stops by itself when failed / eligible devices
    passes ``failure_threshold``; devices not yet reached keep their version."""
    version = await deployments.resolve_version(session, body.model_name, body.version, body.alias)
    deployment = await deployments.request(
        session,
        policy(request),
        model_name=body.model_name,
        version=version,
        device_ids=body.device_ids,
        batch_size=body.batch_size,
        pause_s=body.pause_s,
        failure_threshold=body.failure_threshold,
        device_timeout_s=body.device_timeout_s,
        requested_by=user.id,
    )
    return await _out(session, deployment)


@router.post(
    "/my-devices",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: problem_response("The Idempotency-Key deployed something else, or a device is busy"),
        422: problem_response("No such alias, or the caller registered no devices"),
    },
)
async def deploy_to_my_devices(
    request: Request,
    response: Response,
    session: SessionDep,
    body: MyDevicesDeploymentIn,
    idempotency_key: RequiredIdempotencyKey,
    user: Principal = require_permission(DEPLOYMENTS_WRITE),
) -> DeploymentOut:
    """The quick action "deploy the model alias A to my devices": one rollout of the alias's
    version over every device the caller registered. A retry with the same key returns the
    same deployment (``Idempotent-Replayed: true``) and deploys nothing new."""
    deployment, replayed = await deployments.to_my_devices(
        session,
        policy(request),
        user_id=user.id,
        model_name=body.model_name,
        alias=body.alias,
        idempotency_key=idempotency_key,
    )
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return await _out(session, deployment)


@router.get("")
async def list_deployments(
    session: SessionDep,
    limit: PageSize = 50,
    cursor: Cursor = None,
    state: DeploymentState | None = None,
    model_name: str | None = None,
    user: Principal = require_any(*READERS),
) -> DeploymentPage:
    rows = await deployments.page(
        session,
        limit=limit,
        cursor=cursor,
        state=str(state) if state else None,
        model_name=model_name,
    )
    items = [DeploymentOut.model_validate(d) for d in rows[:limit]]
    more = len(rows) > limit
    return DeploymentPage(
        items=items,
        next_cursor=encode_cursor(items[-1].created_at, items[-1].id) if more else None,
    )


@router.get("/{deployment_id}")
async def get_deployment(
    session: SessionDep, deployment_id: uuid.UUID, user: Principal = require_any(*READERS)
) -> DeploymentOut:
    return await _out(session, await deployments.get(session, deployment_id))


@router.post("/{deployment_id}/abort")
async def abort(
    session: SessionDep,
    deployment_id: uuid.UUID,
    user: Principal = require_permission(DEPLOYMENTS_WRITE),
) -> DeploymentOut:
    return await _out(session, await deployments.abort(session, deployment_id, user.id))


@router.post("/{deployment_id}/rollback", status_code=status.HTTP_201_CREATED)
async def rollback(
    request: Request,
    session: SessionDep,
    deployment_id: uuid.UUID,
    user: Principal = require_permission(DEPLOYMENTS_WRITE),
) -> DeploymentOut:
    """A new deployment taking the devices this one updated back to its previous version."""
    deployment = await deployments.rollback(session, policy(request), deployment_id, user.id)
    return await _out(session, deployment)
