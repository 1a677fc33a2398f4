from __future__ import annotations

import asyncio

import psycopg
from alembic import command
from alembic.config import Config

from .conftest import ALEMBIC_INI


async def test_models_and_migrations_do_not_drift(database_url):
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = database_url
    await asyncio.to_thread(command.check, config)  # raises on any difference


async def test_default_roles_are_seeded(database_url):
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (
            await conn.execute(
                "SELECT r.name, count(rp.permission) FROM roles r "
                "LEFT JOIN role_permissions rp ON rp.role = r.name GROUP BY r.name"
            )
        ).fetchall()
    assert dict(rows) == {"admin": 8, "user": 0}
