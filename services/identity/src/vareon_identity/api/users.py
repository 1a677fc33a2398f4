"""Admin routes over users (permissions checked against current roles) and the JWKS."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from vareon_chassis.db import SessionDep
from vareon_chassis.pagination import Cursor, PageSize

from vareon_identity import service
from vareon_identity.api.deps import Caller, requires
from vareon_identity.keys import KeyRing
from vareon_identity.models import User
from vareon_identity.schemas import UserOut, UserPage

router = APIRouter(prefix="/api/v1/users")
jwks_router = APIRouter()


@router.get("", response_model=UserPage)
async def list_users(
    session: SessionDep,
    _: Caller = requires("users:read"),
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> UserPage:
    found, next_cursor = await service.list_users(session, limit=limit, cursor=cursor)
    return UserPage(items=[UserOut.model_validate(u) for u in found], next_cursor=next_cursor)


@router.post("/{user_id}/roles/{role}", response_model=UserOut)
async def grant_role(
    user_id: UUID, role: str, session: SessionDep, _: Caller = requires("users:write")
) -> User:
    return await service.grant_role(session, user_id, role)


@router.delete("/{user_id}/roles/{role}", response_model=UserOut)
async def revoke_role(
    user_id: UUID, role: str, session: SessionDep, _: Caller = requires("users:write")
) -> User:
    return await service.revoke_role(session, user_id, role)


@jwks_router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    keys: KeyRing = request.app.state.key_ring
    return keys.public_jwks()
