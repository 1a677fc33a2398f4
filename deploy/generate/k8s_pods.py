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
