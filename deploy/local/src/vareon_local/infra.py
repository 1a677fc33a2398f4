"""PostgreSQL and the broker: embedded by default, external through VAREON_DATABASE_URL /
VAREON_KAFKA_BOOTSTRAP."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import psycopg
from psycopg import sql
from vareon_chassis.embedded import EmbeddedBroker, EmbeddedPostgres

TOPIC_PARTITIONS = 3


def _libpq(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return ("postgresql" + sep + rest) if sep and scheme.startswith("postgres") else url


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def postmaster_pid(pgdata: Path) -> int | None:
    """The running server of ``pgdata`` according to postmaster.pid, if it is alive."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        return pid if is_alive(pid) else None
    return None


class Databases:
    """One server; one database per service (``vareon_<name>``), created when missing."""

    def __init__(self, pgdata: Path, external_url: str | None = None) -> None:
        self.pgdata = pgdata
        self.external_url = external_url
        self.embedded: EmbeddedPostgres | None = None
        self.leftover_pid: int | None = None

    @property
    def description(self) -> str:
        if self.external_url:
            return "external (VAREON_DATABASE_URL)"
        return f"embedded PostgreSQL, data in {self.pgdata}"

    def start(self) -> None:
        if self.external_url:
            return
        self.leftover_pid = postmaster_pid(self.pgdata)
        # We hold the state dir's lock, so no other handle on this server is legitimate:
        # forget the pids a crashed run left behind, or cleanup() would never stop it.
        (self.pgdata / ".handle_pids.json").unlink(missing_ok=True)
        self.embedded = EmbeddedPostgres(self.pgdata)
        self.embedded.start()

    @property
    def pid(self) -> int | None:
        return postmaster_pid(self.pgdata) if self.embedded else None

    @property
    def admin_url(self) -> str:
        if self.external_url:
            return _libpq(self.external_url)
        assert self.embedded is not None, "start() first"
        return self.embedded.url("postgres")

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        base, _, query = self.admin_url.partition("?")
        rest = base.partition("://")[2]
        authority = rest.split("/", 1)[0]
        url = f"postgresql+psycopg://{authority}/{database}"
        return url + ("?" + query if query else "")

    def ensure(self, databases: list[str]) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            have = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            for name in databases:
                if name not in have:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self) -> None:
        embedded, self.embedded = self.embedded, None
        if embedded is not None:
            embedded.stop()


class Broker:
    def __init__(
        self, log_path: Path, external_bootstrap: str | None = None, port: int | None = None
    ) -> None:
        self.external_bootstrap = external_bootstrap
        self.embedded = None if external_bootstrap else EmbeddedBroker(log_path, port)

    @property
    def description(self) -> str:
        if self.embedded is None:
            return "external (VAREON_KAFKA_BOOTSTRAP)"
        return "embedded Tansu, MEMORY ONLY: topics and offsets are lost when it stops"

    @property
    def bootstrap(self) -> str:
        return self.external_bootstrap or self.embedded.bootstrap  # type: ignore[union-attr]

    @property
    def pid(self) -> int | None:
        process = self.embedded.process if self.embedded else None
        return process.pid if process is not None else None

    def start(self) -> None:
        if self.embedded is not None:
            self.embedded.start()

    def died(self) -> bool:
        process = self.embedded.process if self.embedded else None
        return process is not None and process.poll() is not None

    def restart(self) -> None:
        assert self.embedded is not None
        self.embedded.restart()

    def create_topics(self, topics: set[str]) -> None:
        from vareon_chassis.messaging.broker import ensure_topics  # FastStream: import late

        asyncio.run(
            asyncio.wait_for(ensure_topics(self.bootstrap, topics, TOPIC_PARTITIONS), timeout=30)
        )

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def catalogue_topics() -> set[str]:
    from vareon_contracts import CATALOGUE

    return {model.topic for model in CATALOGUE.values()}


def migrate(alembic_ini: Path, url: str) -> None:
    """`alembic upgrade head` in this process (one interpreter start instead of one per service)."""
    from vareon_chassis.migrations import upgrade

    upgrade(str(alembic_ini), url)
