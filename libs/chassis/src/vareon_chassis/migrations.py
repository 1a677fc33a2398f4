"""Shared Alembic env.py body: every service migrates its own database the same way."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def run_migrations(target_metadata: MetaData, default_url: str) -> None:
    """Call from migrations/env.py; the URL comes from ``-x url=``, the config or settings."""
    config = context.config
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or default_url
    )
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "compare_type": True,
        "compare_server_default": True,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    connection = config.attributes.get("connection")
    if connection is not None:
        do_run(connection)
    else:
        asyncio.run(run_async())


def upgrade(alembic_ini: str, url: str, revision: str = "head") -> None:
    """Programmatic `alembic upgrade` (blocking: call it from a thread inside an event loop)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(alembic_ini)
    cfg.attributes["url"] = url
    command.upgrade(cfg, revision)
