"""`vareon migrate`: every service's Alembic history applied, the server stopped afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from vareon_chassis.embedded import EmbeddedPostgres
from vareon_local.infra import postmaster_pid
from vareon_local.layout import discover, find_repo_root

ROOT = find_repo_root(Path(__file__).parent)
MIGRATED = [s for s in discover(ROOT) if s.database and s.missing() is None]


def test_migrate_upgrades_every_service_database_then_stops_postgres(pg_tmp: Path) -> None:
    tmp_path = pg_tmp
    result = subprocess.run(
        [sys.executable, "-m", "vareon_local", "migrate", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert postmaster_pid(tmp_path / "pgdata") is None
    postgres = EmbeddedPostgres(tmp_path / "pgdata")
    postgres.start()
    try:
        for service in MIGRATED:
            assert service.database is not None
            with psycopg.connect(postgres.url(service.database)) as conn:
                versions = conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_name LIKE 'alembic_version%'"
                ).fetchall()
                assert versions, service.name
                (table,) = versions[0]
                assert conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone() == (1,)
    finally:
        postgres.stop()


def test_migrate_an_unknown_service_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vareon_local",
            "migrate",
            "--service",
            "nope",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert result.returncode == 2
    assert "no service 'nope'" in result.stdout
