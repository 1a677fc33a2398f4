"""The services under services/ and what each needs, read from its files and settings class
(never from a list kept here): the catalogue both the compose and the Kubernetes files are
built from, plus the settings every deployment sets the same way."""

from __future__ import annotations

import importlib
import inspect
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "gateway"
"""The one public entry; every other service is reached only through it."""
DEFAULT_PORT = 8000
SIGNING_KEYS_MOUNT = "/run/secrets/identity-signing-keys"
DATA_DIR = "/var/lib/vareon"
"""Owned by uid 10001 in the image, so a fresh named volume mounted here is writable."""
WORKER_ALIVE = (
    "import sys; state = open('/proc/1/stat').read().rsplit(')', 1)[1].split()[0]; "
    "sys.exit(state in 'TtZX')"
)
"""A worker serves no HTTP and writes no heartbeat file: liveness is PID 1 neither stopped
nor dead. A worker whose job stalls loses its lease instead; see docs/operations.md."""


@dataclass(frozen=True)
class Service:
    name: str
    prefix: str
    fields: frozenset[str]
    required: frozenset[str]
    port: int
    has_database: bool
    worker: tuple[str, ...] = ()
    """The command of the service's training/background worker, when its package has one."""

    @property
    def shares_files(self) -> bool:
        """Files written by the app and read by its worker (or the other way round)."""
        return "storage_backend" in self.fields

    @property
    def sends_mail(self) -> bool:
        return "smtp_host" in self.fields

    @property
    def signs_tokens(self) -> bool:
        return "signing_keys_dir" in self.fields

    def env(self, field: str) -> str:
        return f"{self.prefix}{field.upper()}"


def settings_class(name: str, service_dir: Path) -> type[Any]:
    from vareon_chassis.settings import ServiceSettings

    src = str(service_dir / "src")
    if src not in sys.path:
        sys.path.append(src)
    module = importlib.import_module(f"vareon_{name}.settings")
    found = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, ServiceSettings)
        and c is not ServiceSettings
        and c.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise LookupError(f"vareon_{name}.settings must define one ServiceSettings subclass")
    return found[0]


def worker_command(name: str, service_dir: Path) -> tuple[str, ...]:
    """``(script, "worker")`` when a console script of the package runs its worker module."""
    project = tomllib.loads((service_dir / "pyproject.toml").read_text()).get("project", {})
    for script, target in project.get("scripts", {}).items():
        if target == f"vareon_{name}.worker:main":
            return (script, "worker")
    return ()


def discover(root: Path = ROOT, *, strict: bool = True) -> list[Service]:
    """Every service; ``strict=False`` skips (with a warning) one whose settings don't import."""
    services = []
    for service_dir in sorted((root / "services").iterdir()):
        if not (service_dir / "pyproject.toml").is_file():
            continue
        name = service_dir.name
        try:
            cls = settings_class(name, service_dir)
        except ImportError as exc:
            if strict:
                raise
            print(f"skipped {name}: {exc}", file=sys.stderr)
            continue
        fields = cls.model_fields
        port = fields["port"].default if "port" in fields else DEFAULT_PORT
        services.append(
            Service(
                name=name,
                prefix=cls.model_config.get("env_prefix", ""),
                fields=frozenset(fields),
                port=port,
                required=frozenset(f for f, info in fields.items() if info.is_required()),
                has_database=(service_dir / "alembic.ini").is_file(),
                worker=worker_command(name, service_dir),
            )
        )
    return services


def environment(
    service: Service, services: list[Service], *, kafka: str, host: Any, proxies: str
) -> dict[str, str]:
    """Settings set in every deployment; ``host(s)`` is how ``s`` is reached by name,
    ``proxies`` the gateway's addresses (whose X-Forwarded-For identity believes)."""
    env = {}
    if "kafka_bootstrap" in service.fields:
        env[service.env("kafka_bootstrap")] = kafka
    if "trusted_proxies" in service.fields:
        env[service.env("trusted_proxies")] = proxies
    if service.name != GATEWAY and not service.signs_tokens and "jwks_url" in service.fields:
        gateway = next(s for s in services if s.name == GATEWAY)
        env[service.env("jwks_url")] = f"http://{host(gateway)}/.well-known/jwks.json"
    for other in services:
        if other is not service and f"{other.name}_url" in service.fields:
            env[service.env(f"{other.name}_url")] = f"http://{host(other)}"
    if service.signs_tokens:
        env[service.env("signing_keys_dir")] = SIGNING_KEYS_MOUNT
    if service.name == GATEWAY:
        # production: CORS only from the listed origins (development also allows localhost)
        env[service.env("environment")] = "production"
        env[service.env("cors_origins")] = "[]"
    return env
