"""The dashboard section's route."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep

from vareon_neosyntis.summary import service
from vareon_neosyntis.summary.schemas import NeosyntisSummary

router = APIRouter(prefix="/api/v1/neosyntis", tags=["dashboard"])


@router.get("/summary", response_model=NeosyntisSummary)
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> NeosyntisSummary:
    return await service.summary(db, user, scope)
