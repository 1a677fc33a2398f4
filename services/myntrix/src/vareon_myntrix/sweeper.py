"""The steps the app runs periodically (``vareon_chassis.periodic``), each testable alone."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_myntrix import agents, deployments, devices

log = structlog.get_logger(__name__)


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    policy: devices.Policy,
    now: datetime | None = None,
) -> int:
    """Announce connectivity transitions and expire overdue commands (one transaction)."""
    now = now or datetime.now(UTC)
    async with sessionmaker.begin() as session:
        changed = await devices.sweep_connectivity(session, policy, now)
        expired = await agents.expire_commands(session, now)
    if changed or expired:
        log.info("swept", connectivity_changes=len(changed), commands_expired=expired)
    return len(changed) + expired


async def roll_out(
    sessionmaker: async_sessionmaker[AsyncSession],
    policy: devices.Policy,
    now: datetime | None = None,
) -> int:
    """Advance every active deployment by one step (one transaction)."""
    async with sessionmaker.begin() as session:
        return await deployments.advance_all(session, policy, now or datetime.now(UTC))
