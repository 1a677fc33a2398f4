"""Writes deploy/compose.yaml and the per-service Kubernetes YAML from services/*/.

Every service is a directory under services/ with a pyproject.toml; what it needs (database,
port, env prefix, which settings exist) is read from its files and its settings class, never
from a list kept here (`services.py`). `compose.py` (+ `compose_kafka.py`) builds the compose
file, `k8s*.py` the Kubernetes base and overlays, `files.py` maps them to paths.
`python deploy/generate` rewrites the files; `--check` exits 1 when they differ (tests/deploy
runs the same comparison).
"""

from .compose import compose, compose_secrets
from .compose_kafka import kafka_acls
from .files import COMPOSE, HEADER, K8S, dump, render, stale
from .k8s_overlays import OVERLAYS
from .services import GATEWAY, ROOT, Service, discover

__all__ = [
    "COMPOSE",
    "GATEWAY",
    "HEADER",
    "K8S",
    "OVERLAYS",
    "ROOT",
    "Service",
    "compose",
    "compose_secrets",
    "discover",
    "dump",
    "kafka_acls",
    "render",
    "stale",
]
