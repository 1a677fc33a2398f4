"""Myntrix's section of the dashboard: agents by status, devices the caller may see."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import Forbidden

from vareon_myntrix import summary as summaries
from vareon_myntrix.api.deps import DEVICES_READ, DEVICES_WRITE, PREFIX
from vareon_myntrix.schemas import MyntrixSummary

router = APIRouter(prefix=PREFIX, tags=["dashboard"])
PLATFORM_READ = "system:read"


@router.get("/summary", response_model=MyntrixSummary)
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> MyntrixSummary:
    if scope == "platform" and not user.has(PLATFORM_READ):
        raise Forbidden(f"platform totals need {PLATFORM_READ}")
    return await summaries.summary(
        db,
        scope,
        owner_id=user.id if scope == "user" else None,
        with_devices=scope == "platform" or user.has(DEVICES_READ) or user.has(DEVICES_WRITE),
    )
