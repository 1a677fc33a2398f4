"""Cognisys's section of the dashboard: the rules, and the recorded traffic for dry-runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import Forbidden

from vareon_cognisys.models import RoutingRule, RoutingSample

router = APIRouter(prefix="/api/v1/cognisys", tags=["dashboard"])
PLATFORM_READ = "system:read"


class CognisysSummary(BaseModel):
    scope: Literal["user", "platform"]
    rules: int
    enabled_rules: int
    samples_last_7_days: int | None = None
    """Platform scope only: calls a dry-run can replay."""


@router.get("/summary", response_model=CognisysSummary)
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> CognisysSummary:
    """Rules are everyone's to read; the traffic sample's size is for system:read."""
    if scope == "platform" and not user.has(PLATFORM_READ):
        raise Forbidden(f"platform totals need {PLATFORM_READ}")
    total, enabled = (
        await db.execute(select(func.count(), func.count().filter(RoutingRule.enabled.is_(True))))
    ).one()
    result = CognisysSummary(scope=scope, rules=total, enabled_rules=enabled)
    if scope == "platform":
        since = datetime.now(UTC) - timedelta(days=7)
        result.samples_last_7_days = (
            await db.scalar(
                select(func.count())
                .select_from(RoutingSample)
                .where(RoutingSample.recorded_at >= since)
            )
            or 0
        )
    return result
