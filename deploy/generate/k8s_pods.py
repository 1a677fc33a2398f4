"""What every Kubernetes pod of a service shares: labels and selectors, security contexts,
secret-backed env, the /tmp volume."""

from __future__ import annotations

from typing import Any

from .services import Service


def labels(s: Service, component: str = "api") -> dict[str, str]:
    return {
        "app.kubernetes.io/name": s.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "vareon",
    }


def selector(s: Service) -> dict[str, str]:
    return {"app.kubernetes.io/name": s.name, "app.kubernetes.io/component": "api"}


def worker_selector(s: Service) -> dict[str, str]:
    return {"app.kubernetes.io/name": s.name, "app.kubernetes.io/component": "worker"}


def container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def database_env(s: Service) -> list[dict[str, Any]]:
    return [
        {
            "name": s.env("database_url"),
            "valueFrom": {"secretKeyRef": {"name": f"{s.name}-database", "key": "url"}},
        }
    ]


def secret_env(s: Service, field: str, secret: str, key: str) -> dict[str, Any]:
    ref = {"name": secret, "key": key, "optional": True}
    return {"name": s.env(field), "valueFrom": {"secretKeyRef": ref}}


def storage_env(s: Service) -> list[dict[str, Any]]:
    """S3 keys from ``<service>-s3``; optional, so a workload identity can stand in for them."""
    return [
        secret_env(s, field, f"{s.name}-s3", key)
        for field, key in (
            ("s3_access_key_id", "access-key-id"),
            ("s3_secret_access_key", "secret-access-key"),
        )
        if field in s.fields
    ]


def tmp_volume(s: Service) -> dict[str, Any]:
    # Dataset spools and training temp files do not fit in a small memory-backed /tmp.
    if s.shares_files:
        return {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}
    return {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}


def deployment(
    meta: dict[str, Any],
    *,
    replicas: int,
    selector: dict[str, str],
    grace_s: int,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
) -> dict[str, Any]:
    """A rolling update that never drops below the wanted replicas, pods hardened alike."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": dict(meta["labels"])},  # a copy: no YAML anchor
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": grace_s,
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def disruption_budget(meta: dict[str, Any], selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    }


def cpu_autoscaler(
    meta: dict[str, Any], *, low: int, high: int, cpu_percent: int, **spec: Any
) -> dict[str, Any]:
    """Scales the Deployment named like ``meta`` between ``low`` and ``high`` replicas."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"]},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_percent},
                    },
                }
            ],
            **spec,
        },
    }
