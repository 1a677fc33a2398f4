"""A service's worker in Kubernetes: its Deployment, disruption budget, autoscaler and policy."""

from __future__ import annotations

from typing import Any

from .k8s_network import OBJECT_STORE_EGRESS, database_egress
from .k8s_pods import (
    container_security,
    cpu_autoscaler,
    database_env,
    deployment,
    disruption_budget,
    labels,
    storage_env,
    tmp_volume,
    worker_selector,
)
from .services import WORKER_ALIVE, Service

WORKER_GRACE_S = 120


def worker_objects(s: Service) -> list[dict[str, Any]]:
    """The worker: the app's image and settings minus HTTP and Kafka (it polls its database),
    scaled on its own; no Service, nothing may reach it."""
    name = f"{s.name}-worker"
    meta = {"name": name, "labels": labels(s, "worker")}
    container: dict[str, Any] = {
        "name": "worker",
        "image": f"vareon/{s.name}",
        "command": list(s.worker),
        "envFrom": [{"configMapRef": {"name": f"{s.name}-storage"}}] if s.shares_files else [],
        "env": [
            *(database_env(s) if s.has_database else []),
            *(storage_env(s) if s.shares_files else []),
        ],
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"memory": "1Gi"},
        },
        "livenessProbe": {
            "exec": {"command": ["python", "-I", "-S", "-c", WORKER_ALIVE]},
            "periodSeconds": 30,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    return [
        # SIGTERM lets the running job finish; one still running after the grace period is
        # killed, its lease expires and another worker starts it again.
        deployment(
            meta,
            replicas=1,
            selector=worker_selector(s),
            grace_s=WORKER_GRACE_S,
            container=container,
            volumes=[tmp_volume(s)],
        ),
        disruption_budget(meta, worker_selector(s)),
        # Training pods are busy until the queue drains: scale down slowly.
        cpu_autoscaler(
            meta,
            low=1,
            high=4,
            cpu_percent=80,
            behavior={"scaleDown": {"stabilizationWindowSeconds": 600}},
        ),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta,
            "spec": {
                "podSelector": {"matchLabels": worker_selector(s)},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [
                    *([database_egress(s)] if s.has_database else []),
                    *([OBJECT_STORE_EGRESS] if s.shares_files else []),
                ],
            },
        },
    ]
