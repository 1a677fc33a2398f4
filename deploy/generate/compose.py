"""deploy/compose.yaml: the broker, one database, migration job, app and worker per service, and
a mail catcher."""

from __future__ import annotations

from typing import Any

from .compose_kafka import broker, kafka_acl_job, kafka_client_env
from .observability import compose_env, compose_services, observability_secrets
from .passwords import password_ref
from .services import DATA_DIR, GATEWAY, SIGNING_KEYS_MOUNT, WORKER_ALIVE, Service, environment

POSTGRES_IMAGE = "postgres:17-alpine"
MAILPIT_IMAGE = "axllent/mailpit:v1.27.0"
COMPOSE_SUBNET = "172.28.0.0/24"
GATEWAY_ADDRESS = "172.28.0.10"
"""The gateway's fixed address on the compose network: the only X-Forwarded-For believed."""


def compose(services: list[Service]) -> dict[str, Any]:
    out: dict[str, Any] = {"kafka": broker(services), "kafka-acls": kafka_acl_job(services)}
    volumes: dict[str, Any] = {"kafka-data": {}}
    secrets: dict[str, Any] = {}

    def host(s: Service) -> str:
        return f"{s.name}:{s.port}"

    for s in services:
        image = {"image": f"vareon/{s.name}:${{VAREON_TAG:-dev}}"}
        build = {
            "context": "..",
            "dockerfile": "deploy/docker/Dockerfile",
            "args": {"SERVICE": s.name, "PORT": str(s.port)},
        }
        env = environment(s, services, kafka="kafka:9092", host=host, proxies=GATEWAY_ADDRESS)
        env |= compose_env(s)
        if "kafka_bootstrap" in s.fields:
            env |= kafka_client_env(s)
        depends: dict[str, Any] = {"kafka": {"condition": "service_healthy"}}
        if "kafka_bootstrap" in s.fields:
            depends["kafka-acls"] = {"condition": "service_completed_successfully"}
        if s.has_database:
            db = f"{s.name}-db"
            # Each database has its own password, from the environment (never the repository);
            # hex keeps it URL-safe (`openssl rand -hex 24`). Kubernetes uses real secrets.
            password = f"{s.name}-db-password"
            secrets[password] = {"environment": f"VAREON_{s.name.upper()}_DB_PASSWORD"}
            url = f"postgresql+psycopg://{s.name}:{password_ref(s.name, 'DB')}@{db}:5432/{s.name}"
            out[db] = {
                "image": POSTGRES_IMAGE,
                "environment": {
                    "POSTGRES_DB": s.name,
                    "POSTGRES_USER": s.name,
                    "POSTGRES_PASSWORD_FILE": f"/run/secrets/{password}",
                },
                "secrets": [password],
                "volumes": [f"{db}:/var/lib/postgresql/data"],
                "healthcheck": {
                    "test": ["CMD", "pg_isready", "-U", s.name, "-d", s.name],
                    "interval": "5s",
                    "timeout": "5s",
                    "retries": 12,
                },
            }
            volumes[db] = {}
            out[f"{s.name}-migrate"] = {
                **image,
                "build": build,
                "command": ["alembic", "upgrade", "head"],
                "environment": {s.env("database_url"): url},
                "depends_on": {db: {"condition": "service_healthy"}},
                "restart": "no",
            }
            env = {s.env("database_url"): url, **env}
            depends[f"{s.name}-migrate"] = {"condition": "service_completed_successfully"}
        entry: dict[str, Any] = {
            **image,
            "build": build,
            "environment": env,
            "depends_on": depends,
            "restart": "unless-stopped",
            "stop_grace_period": "30s",
        }
        if s.signs_tokens:
            entry["secrets"] = [{"source": "identity-signing-keys", "target": SIGNING_KEYS_MOUNT}]
            secrets["identity-signing-keys"] = {"file": "${VAREON_SIGNING_KEYS:-../.vareon/keys}"}
        if s.sends_mail:
            out["mailpit"] = mail_catcher()
            gateway = next(o for o in services if o.name == GATEWAY)
            env[s.env("smtp_host")] = "mailpit"
            env[s.env("smtp_port")] = "1025"
            env[s.env("public_base_url")] = f"http://localhost:{gateway.port}"
            depends["mailpit"] = {"condition": "service_healthy"}
        if s.shares_files:
            # One named volume for the app and its worker: uploads and artifacts both sides see.
            volumes[f"{s.name}-storage"] = {}
            entry["volumes"] = [f"{s.name}-storage:{DATA_DIR}"]
            env[s.env("storage_dir")] = f"{DATA_DIR}/{s.name}"
        if s.name == GATEWAY:
            env[s.env("cors_origins")] = "${VAREON_CORS_ORIGINS:-[]}"
            entry["ports"] = [f"{s.port}:{s.port}"]
            entry["networks"] = {"default": {"ipv4_address": GATEWAY_ADDRESS}}
            entry["depends_on"] = {
                o.name: {"condition": "service_healthy"} for o in services if o is not s
            } | {k: v for k, v in depends.items() if k == "kafka-acls"}
        out[s.name] = entry
        if s.worker:
            out[f"{s.name}-worker"] = compose_worker(s, entry, image)
    out |= compose_services()
    secrets |= observability_secrets()
    doc: dict[str, Any] = {
        "name": "vareon",
        "services": out,
        "networks": {"default": {"ipam": {"config": [{"subnet": COMPOSE_SUBNET}]}}},
        "volumes": volumes,
    }
    if secrets:
        doc["secrets"] = secrets
    return doc


def compose_secrets(services: list[Service]) -> str:
    """`VAREON_..._PASSWORD=<random hex>` lines for every password compose interpolates."""
    import json
    import re
    import secrets

    text = json.dumps(compose(services))
    names = sorted(set(re.findall(r"\$\{(VAREON_\w+_PASSWORD):\?", text)))
    return "".join(f"{n}={secrets.token_hex(24)}\n" for n in names)


def mail_catcher() -> dict[str, Any]:
    """Accepts every mail on :1025 and shows it on http://localhost:8025 (never relays)."""
    return {
        "image": MAILPIT_IMAGE,
        "ports": ["127.0.0.1:8025:8025"],
        "healthcheck": {
            "test": ["CMD", "/mailpit", "readyz"],
            "interval": "5s",
            "timeout": "5s",
            "retries": 12,
        },
        "restart": "unless-stopped",
    }


def compose_worker(s: Service, app: dict[str, Any], image: dict[str, str]) -> dict[str, Any]:
    """The app's image running its worker: same database and files, no port, no broker."""
    env = {k: v for k, v in app["environment"].items() if not k.startswith(s.env("kafka_"))}
    env.pop(s.env("jwks_url"), None)
    depends = {k: dict(v) for k, v in app["depends_on"].items() if k != "kafka"}
    worker: dict[str, Any] = {
        **image,
        "build": app["build"],
        "command": list(s.worker),
        "environment": env,
        "depends_on": depends,
        # The image's HEALTHCHECK asks /health/ready, which a worker does not serve.
        "healthcheck": {
            "test": ["CMD", "python", "-I", "-S", "-c", WORKER_ALIVE],
            "interval": "30s",
            "timeout": "5s",
            "retries": 3,
        },
        "restart": "unless-stopped",
        # A job still running at the deadline is killed; its lease expires and it is re-queued.
        "stop_grace_period": "2m",
    }
    if "volumes" in app:
        worker["volumes"] = list(app["volumes"])
    return worker
