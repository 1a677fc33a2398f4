"""Kubernetes NetworkPolicies: default deny, DNS, and per service who may reach it and what it may
reach."""

from __future__ import annotations

from typing import Any

from .k8s_pods import labels, selector
from .services import GATEWAY, Service

DATA_NS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "vareon-data"}}}
OBJECT_STORE_EGRESS: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": 443}]}
"""HTTPS to any address: S3 has no fixed CIDR in general; narrow it with an ipBlock (or the
in-cluster MinIO's labels) in an overlay when the endpoint's addresses are known."""
SMTP_PORT = 587


def database_egress(s: Service) -> dict[str, Any]:
    return {
        "to": [{**DATA_NS, "podSelector": {"matchLabels": {"vareon.dev/database": s.name}}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }


def network_policy(s: Service, services: list[Service]) -> dict[str, Any]:
    """Ingress: the gateway from anywhere, the others from the gateway only. Egress: the
    service's own database and Kafka (pods labelled in namespace vareon-data; patch in an
    ipBlock for managed ones), the gateway for the JWKS, HTTPS for an object store, SMTP for
    mail; DNS comes from a shared policy."""
    port = [{"protocol": "TCP", "port": s.port}]
    gateway = next(o for o in services if o.name == GATEWAY)
    if s is gateway:
        ingress = [{"ports": port}]
        egress = [
            {
                "to": [{"podSelector": {"matchLabels": selector(o)}}],
                "ports": [{"protocol": "TCP", "port": o.port}],
            }
            for o in services
            if o is not s
        ]
    else:
        ingress = [{"from": [{"podSelector": {"matchLabels": selector(gateway)}}], "ports": port}]
        egress = [
            {
                "to": [{"podSelector": {"matchLabels": selector(gateway)}}],
                "ports": [{"protocol": "TCP", "port": gateway.port}],
            }
        ]
    if "kafka_bootstrap" in s.fields:
        egress.append(
            {
                "to": [{**DATA_NS, "podSelector": {"matchLabels": {"vareon.dev/kafka": "broker"}}}],
                "ports": [{"protocol": "TCP", "port": 9092}],
            }
        )
    if s.has_database:
        egress.append(database_egress(s))
    if s.shares_files:
        egress.append(OBJECT_STORE_EGRESS)
    if s.sends_mail:
        egress.append({"ports": [{"protocol": "TCP", "port": SMTP_PORT}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": s.name, "labels": labels(s)},
        "spec": {
            # The API pods only: a worker of the same service has its own, narrower policy.
            "podSelector": {"matchLabels": selector(s)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


COMMON = [
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-dns"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            }
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    },
]
