"""deploy/k8s/overlays/<env>/kustomization.yaml: namespace, image tags, replicas, resources and
public URLs per environment."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .services import GATEWAY, Service

WORKER_RESOURCES = {
    "dev": {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "768Mi"}},
    "prod": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
}
OVERLAYS: dict[str, dict[str, Any]] = {
    "dev": {
        "namespace": "vareon-dev",
        "tag": "dev",
        "replicas": 1,
        "max": 2,
        "resources": {"requests": {"cpu": "50m", "memory": "160Mi"}, "limits": {"memory": "320Mi"}},
        "workers": {"replicas": 1, "max": 1, "resources": WORKER_RESOURCES["dev"]},
        "public_url": "https://dev.vareon.example",
    },
    "prod": {
        "namespace": "vareon",
        "tag": "0.1.0",
        "replicas": 3,
        "max": 10,
        "resources": {
            "requests": {"cpu": "500m", "memory": "384Mi"},
            "limits": {"memory": "768Mi"},
        },
        "workers": {"replicas": 2, "max": 8, "resources": WORKER_RESOURCES["prod"]},
        "public_url": "https://vareon.example",
        "monitoring": True,
    },
}


def scale_patches(component: str, o: dict[str, Any]) -> list[dict[str, Any]]:
    """Replicas, resources and HPA bounds for the Deployments of one component."""
    chosen = f"app.kubernetes.io/component={component}"
    return [
        {
            "target": {"kind": "Deployment", "labelSelector": chosen},
            "patch": yaml.safe_dump(
                [
                    {"op": "replace", "path": "/spec/replicas", "value": o["replicas"]},
                    {
                        "op": "replace",
                        "path": "/spec/template/spec/containers/0/resources",
                        "value": o["resources"],
                    },
                ],
                sort_keys=False,
            ),
        },
        {
            "target": {"kind": "HorizontalPodAutoscaler", "labelSelector": chosen},
            "patch": yaml.safe_dump(
                [
                    {"op": "replace", "path": "/spec/minReplicas", "value": o["replicas"]},
                    {"op": "replace", "path": "/spec/maxReplicas", "value": o["max"]},
                ],
                sort_keys=False,
            ),
        },
    ]


def overlay(name: str, services: list[Service]) -> dict[str, Any]:
    o = OVERLAYS[name]
    patches = scale_patches("api", o)
    if any(s.worker for s in services):
        patches += scale_patches("worker", o["workers"])
    for s in (s for s in services if s.name == GATEWAY):
        patches.append(
            {
                "target": {"kind": "ConfigMap", "name": f"{s.name}-config"},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "replace",
                            "path": f"/data/{s.env('cors_origins')}",
                            "value": json.dumps([o["public_url"]]),
                        }
                    ],
                    sort_keys=False,
                ),
            }
        )
    for s in (s for s in services if s.sends_mail):
        patches.append(
            {
                "target": {"kind": "ConfigMap", "name": f"{s.name}-mail"},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "replace",
                            "path": f"/data/{s.env('public_base_url')}",
                            "value": o["public_url"],
                        }
                    ],
                    sort_keys=False,
                ),
            }
        )
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": o["namespace"],
        "resources": ["../../base", *(["monitoring.yaml"] if o.get("monitoring") else [])],
        "labels": [{"pairs": {"vareon.dev/environment": name}}],
        "images": [{"name": f"vareon/{s.name}", "newTag": o["tag"]} for s in services],
        "patches": patches,
    }
