"""Myntrix's section of the dashboard: agents by status, devices the caller may see."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import Forbidden

from vareon_myntrix.api.deps import DEVICES_READ, DEVICES_WRITE, PREFIX
from vareon_myntrix.models import Agent, Device

router = APIRouter(prefix=PREFIX, tags=["dashboard"])
PLATFORM_READ = "system:read"


class DeviceCounts(BaseModel):
    total: int
    heard_from: int
    """Sent a heartbeat within its inactivity timeout (online or degraded)."""
    by_admin_state: dict[str, int]


class MyntrixSummary(BaseModel):
    scope: Literal["user", "platform"]
    agents_by_status: dict[str, int]
    devices: DeviceCounts | None
    """None: the caller may not see devices (devices:read)."""


@router.get("/summary", response_model=MyntrixSummary)
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> MyntrixSummary:
    if scope == "platform" and not user.has(PLATFORM_READ):
        raise Forbidden(f"platform totals need {PLATFORM_READ}")
    agents = select(Agent.status, func.count()).group_by(Agent.status)
    if scope == "user":
        agents = agents.where(Agent.owner_id == user.id)
    by_status = {status: count for status, count in (await db.execute(agents)).all()}
    devices = None
    if scope == "platform" or user.has(DEVICES_READ) or user.has(DEVICES_WRITE):
        heard = (
            Device.last_heartbeat_at
            + func.make_interval(0, 0, 0, 0, 0, 0, Device.inactivity_timeout_s)
            >= func.now()
        )
        rows = (
            await db.execute(
                select(
                    Device.admin_state,
                    func.count(),
                    func.count().filter(heard),
                ).group_by(Device.admin_state)
            )
        ).all()
        devices = DeviceCounts(
            total=sum(r[1] for r in rows),
            heard_from=sum(r[2] for r in rows),
            by_admin_state={r[0]: r[1] for r in rows},
        )
    return MyntrixSummary(scope=scope, agents_by_status=by_status, devices=devices)
