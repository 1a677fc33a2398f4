"""Background task that expires holds past their time (one short transaction per batch)."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_wallet import accounts, holds

log = structlog.get_logger(__name__)


async def sweep_holds(
    sessionmaker: async_sessionmaker[AsyncSession], policy: accounts.Policy, interval_s: float
) -> None:
    while True:
        try:
            while True:
                async with sessionmaker.begin() as session:
                    expired = await holds.expire_holds(session, policy)
                if expired:
                    log.info("holds expired", count=expired)
                if expired < 200:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be away for a while: try again later
            log.warning("hold sweep failed", error=repr(exc))
        await asyncio.sleep(interval_s)
