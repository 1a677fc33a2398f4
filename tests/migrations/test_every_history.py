"""Every service's Alembic history: upgrades a fresh database, matches its models
(`alembic check`), and downgrades to base and back up again."""

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = sorted(ROOT.glob("services/*/alembic.ini"))


@pytest.mark.parametrize("ini", HISTORIES, ids=[p.parent.name for p in HISTORIES])
async def test_history_matches_models_and_round_trips(infrastructure, ini):
    # an empty database of its own: `migrated_database` copies a session-wide upgrade
    url = await asyncio.to_thread(infrastructure.create_database, ini.parent.name)
    config = Config(str(ini))
    config.attributes["url"] = url
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.check, config)  # raises on any difference
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.check, config)


def test_revision_files_are_date_prefixed():
    for ini in HISTORIES:
        for path in (ini.parent / "migrations" / "versions").glob("*.py"):
            assert path.name[:11].replace("_", "").isdigit(), path
