"""Arcana's section of the dashboard (the gateway fans out to every service's)."""

from __future__ import annotations

from fastapi import APIRouter
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep

from vareon_arcana.schemas import ArcanaSummary
from vareon_arcana.summary import Scope
from vareon_arcana.summary import summary as summary_of

router = APIRouter(prefix="/api/v1/arcana", tags=["dashboard"])


@router.get("/summary", response_model=ArcanaSummary)
async def summary(user: CurrentUser, db: SessionDep, scope: Scope = "user") -> ArcanaSummary:
    """The caller's chats this month (``scope=platform``: everyone's, needs system:read)."""
    return await summary_of(db, user, scope)
