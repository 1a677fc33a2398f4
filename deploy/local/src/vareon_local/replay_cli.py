"""`vareon replay ...` and `vareon dlq ...`: the chassis commands, pointed at `vareon up`.

The chassis does the work (``vareon_chassis.messaging.commands``); this only fills in each
service's database URL and the broker from the running platform's state file, the same
environment the service itself was started with.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


def service_env(state: dict[str, Any]) -> dict[str, str]:
    """``<SERVICE>_DATABASE_URL`` and ``<SERVICE>_KAFKA_BOOTSTRAP`` for every running service."""
    env: dict[str, str] = {}
    bootstrap = os.environ.get("VAREON_KAFKA_BOOTSTRAP") or state.get("broker", {}).get("bootstrap")
    for name, service in (state.get("services") or {}).items():
        prefix = name.upper() + "_"
        if service.get("database_url"):
            env.setdefault(prefix + "DATABASE_URL", service["database_url"])
        if bootstrap:
            env.setdefault(prefix + "KAFKA_BOOTSTRAP", bootstrap)
    return env


def run(kind: str, args: Sequence[str], state: dict[str, Any] | None) -> int:
    from vareon_chassis.messaging.commands import run_dlq, run_replay

    for key, value in service_env(state or {}).items():
        os.environ.setdefault(key, value)  # what the caller set wins
    return int((run_replay if kind == "replay" else run_dlq)(list(args)))
