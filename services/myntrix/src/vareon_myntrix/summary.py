"""Myntrix's section of the dashboard: agents by status, devices by admin state."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_myntrix.models import Agent, Device
from vareon_myntrix.schemas import DeviceCounts, MyntrixSummary


async def summary(
    db: AsyncSession,
    scope: Literal["user", "platform"],
    owner_id: uuid.UUID | None,
    with_devices: bool,
) -> MyntrixSummary:
    """Agents of ``owner_id`` (every agent when None); device counts when ``with_devices``."""
    agents = select(Agent.status, func.count()).group_by(Agent.status)
    if owner_id is not None:
        agents = agents.where(Agent.owner_id == owner_id)
    by_status = {status: count for status, count in (await db.execute(agents)).all()}
    devices = None
    if with_devices:
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
