"""API keys: a user's own (`/api/v1/auth/api-keys`), and every user's for admins
(`api-keys:admin`). The secret is in the creation's response only."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize

from vareon_identity import api_keys
from vareon_identity.api.deps import Caller, CallerDep, requires
from vareon_identity.models import ApiKey
from vareon_identity.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage, ApiKeyRename

ADMIN = "api-keys:admin"
router = APIRouter(prefix="/api/v1/auth/api-keys", tags=["api keys"])
admin = APIRouter(prefix="/api/v1/users/api-keys", tags=["api keys"])
IncludeRevoked = Annotated[bool, Query(description="List revoked keys too.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses={403: problem_response("The email address is not verified")},
)
async def create_key(body: ApiKeyCreate, caller: CallerDep, session: SessionDep) -> Any:
    """A new key; `key` is the secret, shown in this response only (store it now)."""
    key, secret = await api_keys.create(session, caller.user, body)
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(key).model_dump(), "key": secret}
    )


@router.get("", response_model=ApiKeyPage)
async def list_keys(
    caller: CallerDep,
    session: SessionDep,
    limit: PageSize = 50,
    cursor: Cursor = None,
    include_revoked: IncludeRevoked = False,
) -> Any:
    found, next_cursor = await api_keys.page(
        session, user_id=caller.user.id, include_revoked=include_revoked, limit=limit, cursor=cursor
    )
    return ApiKeyPage(items=[ApiKeyOut.model_validate(k) for k in found], next_cursor=next_cursor)


@router.patch("/{key_id}", response_model=ApiKeyOut)
async def rename_key(
    key_id: UUID, body: ApiKeyRename, caller: CallerDep, session: SessionDep
) -> ApiKey:
    key = await api_keys.owned(session, key_id, caller.user.id)
    return await api_keys.rename(session, key, body.name)


@router.delete("/{key_id}", response_model=ApiKeyOut)
async def revoke_key(key_id: UUID, caller: CallerDep, session: SessionDep) -> ApiKey:
    """Revoke: the key stops working within moments (arcana follows the event)."""
    key = await api_keys.owned(session, key_id, caller.user.id)
    return await api_keys.revoke(session, key, reason="revoked-by-owner")


@admin.get("", response_model=ApiKeyPage)
async def list_all_keys(
    session: SessionDep,
    _: Caller = requires(ADMIN),
    user_id: Annotated[UUID | None, Query(description="Only this user's keys.")] = None,
    limit: PageSize = 50,
    cursor: Cursor = None,
    include_revoked: IncludeRevoked = False,
) -> Any:
    found, next_cursor = await api_keys.page(
        session, user_id=user_id, include_revoked=include_revoked, limit=limit, cursor=cursor
    )
    return ApiKeyPage(items=[ApiKeyOut.model_validate(k) for k in found], next_cursor=next_cursor)


@admin.delete("/{key_id}", response_model=ApiKeyOut)
async def revoke_any_key(key_id: UUID, session: SessionDep, _: Caller = requires(ADMIN)) -> ApiKey:
    key = await api_keys.owned(session, key_id, None)
    return await api_keys.revoke(session, key, reason="revoked-by-admin")
