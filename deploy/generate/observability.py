"""Observability around the platform (deploy/observability): compose's `observability`
profile (Prometheus, Grafana, Jaeger) and, for the prod overlay, the Prometheus Operator's
PodMonitors and PrometheusRule with the NetworkPolicy that lets the monitoring namespace in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .services import GATEWAY, ROOT, Service

PROFILE = "observability"
PROMETHEUS_IMAGE = "prom/prometheus:v2.55.1"
GRAFANA_IMAGE = "grafana/grafana:11.3.0"
JAEGER_IMAGE = "jaegertracing/all-in-one:1.62.0"
GRAFANA_PASSWORD = "${VAREON_GRAFANA_PASSWORD:?set VAREON_GRAFANA_PASSWORD}"  # noqa: S105
OTLP_HTTP_PORT = 4318
MONITORING_NS = "monitoring"
"""Where the Prometheus Operator's Prometheus and the OTLP collector run."""
SCRAPE_TOKEN_SECRET = "prometheus-scrape-token"  # noqa: S105 - the Secret's name
"""A bearer token with system:read: the gateway's /metrics is for operators only."""
ALERTS = ROOT / "deploy" / "observability" / "alerts.yml"


def compose_env(s: Service) -> dict[str, str]:
    """Traces go to the collector named by VAREON_OTLP_ENDPOINT (unset: tracing off)."""
    if "otlp_endpoint" not in s.fields:
        return {}
    return {s.env("otlp_endpoint"): "${VAREON_OTLP_ENDPOINT:-}"}


def compose_services() -> dict[str, Any]:
    """Started only with ``docker compose --profile observability up``."""
    config = "./observability"
    return {
        "prometheus": {
            "image": PROMETHEUS_IMAGE,
            "profiles": [PROFILE],
            "command": [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.retention.time=7d",
            ],
            "volumes": [
                f"{config}/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                f"{config}/alerts.yml:/etc/prometheus/alerts.yml:ro",
            ],
            "secrets": ["prometheus-token"],
            "ports": ["127.0.0.1:9090:9090"],
            "restart": "unless-stopped",
        },
        "grafana": {
            "image": GRAFANA_IMAGE,
            "profiles": [PROFILE],
            "environment": {
                "GF_SECURITY_ADMIN_PASSWORD": GRAFANA_PASSWORD,
                "GF_USERS_ALLOW_SIGN_UP": "false",
            },
            "volumes": [
                f"{config}/grafana/provisioning:/etc/grafana/provisioning:ro",
                f"{config}/grafana/dashboards:/var/lib/grafana/dashboards:ro",
            ],
            "depends_on": ["prometheus", "jaeger"],
            "ports": ["127.0.0.1:3000:3000"],
            "restart": "unless-stopped",
        },
        "jaeger": {
            "image": JAEGER_IMAGE,
            "profiles": [PROFILE],
            "environment": {"COLLECTOR_OTLP_ENABLED": "true"},
            # the UI on the host; OTLP (4318) only inside the compose network
            "ports": ["127.0.0.1:16686:16686"],
            "restart": "unless-stopped",
        },
    }


def observability_secrets() -> dict[str, Any]:
    return {"prometheus-token": {"file": "${VAREON_PROMETHEUS_TOKEN:-./.secrets/prometheus-token}"}}


def _pod_monitor(name: str, services: list[Service], endpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": name},
        "spec": {
            "selector": {
                "matchLabels": {"app.kubernetes.io/component": "api"},
                "matchExpressions": [
                    {
                        "key": "app.kubernetes.io/name",
                        "operator": "In",
                        "values": sorted(s.name for s in services),
                    }
                ],
            },
            "podMetricsEndpoints": [
                {"port": "http", "path": "/metrics", "interval": "15s", **endpoint}
            ],
        },
    }


def k8s_monitoring(services: list[Service]) -> list[dict[str, Any]]:
    """The prod overlay's monitoring objects (overlays/prod/monitoring.yaml)."""
    inside = [s for s in services if s.name != GATEWAY]
    gateway = [s for s in services if s.name == GATEWAY]
    alerts = yaml.safe_load(Path(ALERTS).read_text())
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NS}}
    }
    return [
        _pod_monitor("vareon-services", inside, {}),
        _pod_monitor(
            "vareon-gateway",
            gateway,
            {
                "authorization": {
                    "type": "Bearer",
                    "credentials": {"name": SCRAPE_TOKEN_SECRET, "key": "token"},
                }
            },
        ),
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "vareon"},
            "spec": {"groups": alerts["groups"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "observability"},
            "spec": {
                # Prometheus scrapes every API pod's port; every pod may send traces to the
                # collector. NetworkPolicies add up: each service's own policy stays as it is.
                "podSelector": {"matchLabels": {"app.kubernetes.io/component": "api"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [monitoring],
                        "ports": [{"protocol": "TCP", "port": s.port} for s in services],
                    }
                ],
                "egress": [
                    {"to": [monitoring], "ports": [{"protocol": "TCP", "port": OTLP_HTTP_PORT}]}
                ],
            },
        },
    ]
