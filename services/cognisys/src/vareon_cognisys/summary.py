"""Cognisys's section of the dashboard: the rules, and the recorded traffic for dry-runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import Principal
from vareon_chassis.errors import Forbidden

from vareon_cognisys.models import RoutingRule, RoutingSample
from vareon_cognisys.schemas import CognisysSummary

PLATFORM_READ = "system:read"
Scope = Literal["user", "platform"]


async def summary(db: AsyncSession, user: Principal, scope: Scope) -> CognisysSummary:
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
