"""The hold sweep the app runs periodically: holds past their time expire, one batch a step."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_wallet import accounts, holds

log = structlog.get_logger(__name__)
BATCH = 200


async def expire_due_holds(
    sessionmaker: async_sessionmaker[AsyncSession], policy: accounts.Policy
) -> bool:
    """Expire one batch (one short transaction); True when the batch was full (more wait)."""
    async with sessionmaker.begin() as session:
        expired = await holds.expire_holds(session, policy, limit=BATCH)
    if expired:
        log.info("holds expired", count=expired)
    return expired >= BATCH
