"""`infrastructure.migrated_database` copies one upgrade per history (CREATE DATABASE ...
TEMPLATE): each copy must be what an upgrade of its own gives, and independent of the others."""

import asyncio
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = sorted(ROOT.glob("services/*/alembic.ini"))
SHAPE = """
SELECT 'column', table_name, column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT 'index', tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'constraint', conrelid::regclass::text, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT 'sequence', sequencename, coalesce(last_value, 0)::text
  FROM pg_sequences WHERE schemaname = 'public'
UNION ALL SELECT 'version', 'alembic', version_num FROM alembic_version
ORDER BY 1, 2, 3
"""


def shape_and_rows(url: str) -> tuple[list[tuple], dict[str, int]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        shape = conn.execute(SHAPE).fetchall()
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        n = sql.SQL("SELECT count(*) FROM {}")
        rows = {t: conn.execute(n.format(sql.Identifier(t))).fetchall()[0][0] for (t,) in tables}
    return shape, rows


@pytest.mark.parametrize("ini", HISTORIES, ids=[p.parent.name for p in HISTORIES])
async def test_a_copy_is_what_an_upgrade_of_its_own_gives(infrastructure, ini):
    copy = await infrastructure.migrated_database(ini.parent.name, ini)
    own = await asyncio.to_thread(infrastructure.create_database, ini.parent.name)
    config = Config(str(ini))
    config.attributes["url"] = own
    await asyncio.to_thread(command.upgrade, config, "head")

    copied, upgraded = await asyncio.gather(
        asyncio.to_thread(shape_and_rows, copy), asyncio.to_thread(shape_and_rows, own)
    )
    assert copied[0] and copied == upgraded  # same schema, same seed rows


async def test_copies_are_independent(infrastructure):
    ini = ROOT / "services/cognisys/alembic.ini"
    first = await infrastructure.migrated_database("cognisys", ini)
    with psycopg.connect(first.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TABLE only_in_first (x int)")
    second = await infrastructure.migrated_database("cognisys", ini)
    assert first != second
    with psycopg.connect(second.replace("postgresql+psycopg://", "postgresql://")) as conn:
        assert conn.execute("SELECT to_regclass('only_in_first')").fetchone() == (None,)
