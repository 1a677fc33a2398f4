"""Model registry routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize, encode_cursor

from vareon_neosyntis.errors import ImmutableModelVersion, InvalidRequest
from vareon_neosyntis.registry import service
from vareon_neosyntis.registry.schemas import (
    AliasIn,
    AliasOut,
    AliasPeriod,
    ModelIn,
    ModelOut,
    ModelPage,
    ModelPatch,
    ModelVersionIn,
    ModelVersionOut,
)

router = APIRouter(prefix="/api/v1/neosyntis/models", tags=["models"])


@router.post(
    "",
    status_code=201,
    response_model=ModelOut,
    responses={409: problem_response("A model of that name exists")},
)
async def create_model(body: ModelIn, session: SessionDep, user: CurrentUser) -> ModelOut:
    model = await service.create_model(
        session,
        user.id,
        body.name,
        body.description,
        visibility=body.visibility,
        may_publish=user.has(service.PUBLISH),
    )
    return ModelOut.model_validate(model)


@router.patch("/{name}", response_model=ModelOut)
async def update_model(
    name: str, body: ModelPatch, session: SessionDep, user: CurrentUser
) -> ModelOut:
    model = await service.update_model(
        session,
        user.id,
        name,
        description=body.description,
        visibility=body.visibility,
        may_publish=user.has(service.PUBLISH),
    )
    return ModelOut.model_validate(model)


@router.get("", response_model=ModelPage)
async def list_models(
    session: SessionDep,
    user: CurrentUser,
    limit: PageSize = 50,
    cursor: Cursor = None,
    mine: bool = False,
    name_prefix: str | None = None,
) -> ModelPage:
    models = await service.list_models(
        session,
        limit=limit,
        cursor=cursor,
        viewer=user.id,
        owner_id=user.id if mine else None,
        name_prefix=name_prefix,
    )
    last = models[-1] if len(models) == limit else None
    return ModelPage(
        items=[ModelOut.model_validate(m) for m in models],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


@router.get("/{name}", response_model=ModelOut)
async def get_model(name: str, session: SessionDep, user: CurrentUser) -> ModelOut:
    return ModelOut.model_validate(await service.get_model(session, name, user.id))


@router.post("/{name}/versions", status_code=201, response_model=ModelVersionOut)
async def register_version(
    name: str, body: ModelVersionIn, session: SessionDep, user: CurrentUser
) -> ModelVersionOut:
    await service.check_lineage(
        session, user.id, body.training_job_id, body.dataset_version_id, body.dataset_digest
    )
    _, version = await service.register_version(session, user.id, name, **body.model_dump())
    return ModelVersionOut.model_validate(version)


@router.get("/{name}/versions", response_model=list[ModelVersionOut])
async def list_versions(name: str, session: SessionDep, user: CurrentUser) -> list[ModelVersionOut]:
    model = await service.get_model(session, name, user.id)
    return [ModelVersionOut.model_validate(v) for v in await service.list_versions(session, model)]


@router.get("/{name}/versions/{version}", response_model=ModelVersionOut)
async def get_version(
    name: str, version: int, session: SessionDep, user: CurrentUser
) -> ModelVersionOut:
    model = await service.get_model(session, name, user.id)
    return ModelVersionOut.model_validate(await service.get_version(session, model, version))


@router.api_route(
    "/{name}/versions/{version}", methods=["PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def change_version(name: str, version: int, user: CurrentUser) -> None:
    raise ImmutableModelVersion(
        f"version {version} of model {name!r} is immutable; register a new version instead",
        headers={"Allow": "GET"},
    )


@router.put("/{name}/aliases/{alias}", response_model=AliasOut)
async def move_alias(
    name: str, alias: str, body: AliasIn, session: SessionDep, user: CurrentUser
) -> AliasOut:
    model, period, previous = await service.move_alias(session, user.id, name, alias, body.version)
    return AliasOut(
        model=model.name,
        alias=alias,
        version=period.version,
        valid_from=period.valid_from,
        valid_to=None,
        previous_version=previous,
    )


@router.get("/{name}/aliases/{alias}", response_model=AliasOut)
async def get_alias(
    name: str,
    alias: str,
    session: SessionDep,
    user: CurrentUser,
    at: Annotated[str | None, Query(description="RFC 3339 time")] = None,
) -> AliasOut:
    when = None
    if at is not None:
        try:
            if len(at) > 19 and at[19:].count(" ") == 1:  # '+' decoded as a space
                at = at[:19] + at[19:].replace(" ", "+")
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"'at' is not an RFC 3339 time: {at!r}") from None
        if when.tzinfo is None:
            raise InvalidRequest("'at' needs a UTC offset (RFC 3339)")
    period = await service.alias_at(session, user.id, name, alias, when)
    return AliasOut(
        model=name,
        alias=alias,
        version=period.version,
        valid_from=period.valid_from,
        valid_to=period.valid_to,
    )


@router.get("/{name}/aliases/{alias}/history", response_model=list[AliasPeriod])
async def alias_history(
    name: str, alias: str, session: SessionDep, user: CurrentUser
) -> list[AliasPeriod]:
    history = await service.alias_history(session, user.id, name, alias)
    return [AliasPeriod.model_validate(p) for p in history]
