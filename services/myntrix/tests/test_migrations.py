import asyncio

from alembic import command
from alembic.config import Config

from .conftest import ALEMBIC_INI


async def test_models_and_migrations_do_not_drift(database_url):
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = database_url
    await asyncio.to_thread(command.check, config)  # raises on any difference
