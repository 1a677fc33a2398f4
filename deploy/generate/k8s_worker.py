"""A service's worker in Kubernetes: its Deployment, disruption budget, autoscaler and policy."""

from __future__ import annotations

from typing import Any

from .k8s_network import OBJECT_STORE_EGRESS, database_egress
from .k8s_pods import (
    container_security,
    database_env,
    labels,
    pod_security,
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
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": worker_selector(s)},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {"labels": labels(s, "worker")},
                    "spec": {
                        "automountServiceAccountToken": False,
                        # SIGTERM lets the running job finish; one still running after this
                        # is killed, its lease expires and another worker starts it again.
                        "terminationGracePeriodSeconds": WORKER_GRACE_S,
                        "securityContext": pod_security(),
                        "containers": [container],
                        "volumes": [tmp_volume(s)],
                    },
                },
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta,
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": worker_selector(s)}},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 1,
                "maxReplicas": 4,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ],
                # Training pods are busy until the queue drains: scale down slowly.
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
            },
        },
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
