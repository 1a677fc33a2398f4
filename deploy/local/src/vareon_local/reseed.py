"""Re-seed a fresh (memory-only) broker from every service's retained outbox rows.

The embedded broker loses every topic when it stops, but each service keeps what it
published in its outbox (``vareon up`` keeps sent rows for ever). Before any consumer
starts, every sent row goes out again in id order per service (the chassis' ``republish``,
holding the relay's lock), so a replica that missed an event while the platform was down,
or a replica built from scratch, reads the whole history; consumers that already applied an
event skip it (inbox). Unsent rows are left to the services' own relays.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import MetaData, text


async def _reseed_one(bootstrap: str, database_url: str) -> int:
    from aiokafka import AIOKafkaProducer
    from vareon_chassis.db import create_engine, create_sessionmaker
    from vareon_chassis.messaging import define_outbox
    from vareon_chassis.messaging.replay import republish

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            if await conn.scalar(text("SELECT to_regclass('outbox')")) is None:
                return 0
        report = await republish(
            define_outbox(MetaData()),
            create_sessionmaker(engine),
            lambda: AIOKafkaProducer(
                bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
            ),
            execute=True,
        )
        return report.records
    finally:
        await engine.dispose()


def reseed(bootstrap: str, databases: dict[str, str], timeout_s: float = 300.0) -> dict[str, int]:
    """``{service: rows republished}`` for ``{service: SQLAlchemy URL}``."""

    async def run() -> dict[str, int]:
        names = sorted(databases)
        counts = await asyncio.gather(*(_reseed_one(bootstrap, databases[n]) for n in names))
        return dict(zip(names, counts, strict=True))

    return asyncio.run(asyncio.wait_for(run(), timeout_s))
