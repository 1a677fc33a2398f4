"""Autogenerate a date-prefixed Alembic revision for one service against a scratch database.

Usage: python scripts/new_migration.py SERVICE "message"
The scratch database lives in an embedded PostgreSQL that is removed afterwards; read and tidy
the generated file before committing it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from vareon_chassis.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]


def main(service: str, message: str) -> None:
    ini = ROOT / "services" / service / "alembic.ini"
    if not ini.exists():
        sys.exit(f"no such service: {ini}")
    with tempfile.TemporaryDirectory(prefix="vareon-migration-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
        postgres.start()
        try:
            cfg = Config(str(ini))
            cfg.attributes["url"] = postgres.create_database("scratch")
            command.upgrade(cfg, "head")
            heads = ScriptDirectory.from_config(cfg).get_heads()
            number = len(list(ScriptDirectory.from_config(cfg).walk_revisions())) + 1
            rev_id = f"{number:04d}"  # the file name already carries the date
            command.revision(
                cfg,
                message=message,
                autogenerate=True,
                rev_id=rev_id,
                head=heads[0] if heads else "head",
            )
        finally:
            postgres.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
