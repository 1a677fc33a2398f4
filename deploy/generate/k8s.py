"""deploy/k8s/base/<service>.yaml: a service's config, Deployment, Service, disruption budget,
autoscaler, network policy, migration job and worker."""

from __future__ import annotations

from typing import Any

from .k8s_network import SMTP_PORT, network_policy
from .k8s_pods import (
    container_security,
    cpu_autoscaler,
    database_env,
    deployment,
    disruption_budget,
    labels,
    pod_security,
    secret_env,
    selector,
    storage_env,
    tmp_volume,
)
from .k8s_worker import worker_objects
from .services import SIGNING_KEYS_MOUNT, Service, environment

K8S_TRUSTED_PROXIES = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
"""Pod addresses are not fixed; the NetworkPolicy admits only gateway pods to identity, so any
private peer is the gateway. Narrow it to the cluster's pod CIDR in an overlay."""


def storage_config(s: Service) -> dict[str, Any]:
    """Files shared by the app and its worker live in S3: pods have no common disk unless the
    cluster offers ReadWriteMany volumes (then set the backend to local and mount one)."""
    data = {s.env("storage_backend"): "s3", s.env("s3_bucket"): f"vareon-{s.name}"}
    if "s3_region" in s.fields:
        data[s.env("s3_region")] = "us-east-1"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{s.name}-storage", "labels": labels(s, "storage")},
        "data": data,
    }


def mail_config(s: Service) -> dict[str, Any]:
    """The SMTP relay (a submission port with STARTTLS) and the links put in mails; the
    overlays set the public URL, an overlay patch points the host at a real relay."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{s.name}-mail", "labels": labels(s, "mail")},
        "data": {
            s.env("smtp_host"): "smtp.vareon-data.svc.cluster.local",
            s.env("smtp_port"): str(SMTP_PORT),
            s.env("smtp_starttls"): "true",
            s.env("public_base_url"): "https://vareon.example",
        },
    }


def mail_env(s: Service) -> list[dict[str, Any]]:
    return [
        secret_env(s, "smtp_username", f"{s.name}-smtp", "username"),
        secret_env(s, "smtp_password", f"{s.name}-smtp", "password"),
    ]


def k8s_objects(s: Service, services: list[Service]) -> list[dict[str, Any]]:
    def host(o: Service) -> str:
        return f"{o.name}:{o.port}"

    config = environment(
        s,
        services,
        kafka="kafka.vareon-data.svc.cluster.local:9092",
        host=host,
        proxies=K8S_TRUSTED_PROXIES,
    )
    volumes: list[dict[str, Any]] = [tmp_volume(s)]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    if s.signs_tokens:
        volumes.append(
            {
                "name": "signing-keys",
                "secret": {"secretName": "identity-signing-keys", "defaultMode": 0o400},
            }
        )
        mounts.append({"name": "signing-keys", "mountPath": SIGNING_KEYS_MOUNT, "readOnly": True})

    def probe(path: str, **extra: Any) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 3, **extra}

    container: dict[str, Any] = {
        "name": s.name,
        "image": f"vareon/{s.name}",
        "ports": [{"name": "http", "containerPort": s.port}],
        "envFrom": [{"configMapRef": {"name": f"{s.name}-config"}}],
        "env": database_env(s) if s.has_database else [],
        "resources": {
            "requests": {"cpu": "100m", "memory": "192Mi"},
            "limits": {"memory": "384Mi"},
        },
        "startupProbe": probe("/health/live", periodSeconds=2, failureThreshold=30),
        "livenessProbe": probe("/health/live", periodSeconds=10, failureThreshold=3),
        "readinessProbe": probe("/health/ready", periodSeconds=5, failureThreshold=2),
        # Endpoints are removed before SIGTERM reaches uvicorn, which then drains.
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    extra: list[dict[str, Any]] = []
    if s.shares_files:
        extra.append(storage_config(s))
        container["envFrom"].append({"configMapRef": {"name": f"{s.name}-storage"}})
        container["env"] += storage_env(s)
    if s.sends_mail:
        extra.append(mail_config(s))
        container["envFrom"].append({"configMapRef": {"name": f"{s.name}-mail"}})
        container["env"] += mail_env(s)
    meta = {"name": s.name, "labels": labels(s)}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{s.name}-config", "labels": labels(s)},
            "data": config,
        },
        deployment(
            meta, replicas=2, selector=selector(s), grace_s=40, container=container, volumes=volumes
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "selector": selector(s),
                "ports": [{"name": "http", "port": s.port, "targetPort": "http"}],
            },
        },
        disruption_budget(meta, selector(s)),
        cpu_autoscaler(meta, low=2, high=6, cpu_percent=70),
        network_policy(s, services),
        *extra,
    ]
    if s.has_database:
        objects.append(migration_job(s))
    if s.worker:
        objects += worker_objects(s)
    return objects


def migration_job(s: Service) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{s.name}-migrate", "labels": labels(s, "migration")},
        "spec": {
            "backoffLimit": 3,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels(s, "migration")},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [
                        {
                            "name": "migrate",
                            "image": f"vareon/{s.name}",
                            "command": ["alembic", "upgrade", "head"],
                            "env": database_env(s),
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "128Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                            "securityContext": container_security(),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }
