"""The compose broker: SASL principals (one per service) and the topics and ACLs each may use,
derived from the contracts."""

from __future__ import annotations

from typing import Any

from .passwords import password_ref
from .services import Service

KAFKA_IMAGE = "apache/kafka:4.1.0"
KAFKA_ADMIN = "admin"
ADMIN_CLIENT_CONFIG = (
    "printf '%s\\n' security.protocol=SASL_PLAINTEXT sasl.mechanism=PLAIN"
    ' "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required'
    f' username=\\"{KAFKA_ADMIN}\\" password=\\"$$ADMIN_PASSWORD\\";"'
    " > /tmp/admin.properties"
)
"""Writes the admin's client config (its password from the container's environment)."""


def kafka_principals(services: list[Service]) -> list[Service]:
    return [s for s in services if "kafka_bootstrap" in s.fields]


def kafka_client_env(s: Service) -> dict[str, str]:
    return {
        s.env("kafka_security_protocol"): "SASL_PLAINTEXT",
        s.env("kafka_sasl_mechanism"): "PLAIN",
        s.env("kafka_sasl_username"): s.name,
        s.env("kafka_sasl_password"): password_ref(s.name, "KAFKA"),
    }


def jaas_config(services: list[Service]) -> str:
    users = " ".join(
        f'user_{p}="{password_ref(p, "KAFKA")}"'
        for p in [KAFKA_ADMIN, *(s.name for s in kafka_principals(services))]
    )
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{KAFKA_ADMIN}" password="{password_ref(KAFKA_ADMIN, "KAFKA")}" {users};'
    )


def all_topics() -> list[str]:
    from vareon_contracts import topics
    from vareon_contracts.catalogue import CATALOGUE

    names = {m.topic for m in CATALOGUE.values()}
    return sorted(names | {topics.dead_letter_topic(t) for t in names})


def kafka_acls(services: list[Service]) -> list[tuple[str, str, str, str]]:
    """(principal, operation, resource kind, name), from the contracts: a service writes the
    topics of the events it publishes (and the dead letters of what it consumes), reads what it
    consumes plus the session revocations, and owns the consumer groups named after it."""
    from vareon_contracts import topics
    from vareon_contracts.catalogue import CATALOGUE
    from vareon_contracts.services import SERVICES

    acls: list[tuple[str, str, str, str]] = []
    for s in kafka_principals(services):
        contract = SERVICES[s.name]
        own = sorted({CATALOGUE[t].topic for t in contract.publishes})
        consumed = sorted({CATALOGUE[t].topic for t in contract.consumes})
        for topic in own:
            acls += [(s.name, op, "topic", topic) for op in ("Write", "Describe")]
        for topic in sorted({*consumed, topics.IDENTITY_SESSION}):
            acls += [(s.name, op, "topic", topic) for op in ("Read", "Describe")]
        for topic in consumed:  # a consumer parks what it cannot handle, and replays it
            dlq = topics.dead_letter_topic(topic)
            acls += [(s.name, op, "topic", dlq) for op in ("Write", "Read", "Describe")]
        acls.append((s.name, "Read", "group", f"{s.name}."))
    return acls


def kafka_acl_job(services: list[Service]) -> dict[str, Any]:
    """Creates every topic and grants each service's principal its ACLs, then exits."""
    bin_ = "/opt/kafka/bin"
    connect = "--bootstrap-server kafka:9092 --command-config /tmp/admin.properties"
    steps = [ADMIN_CLIENT_CONFIG]
    steps += [
        f"{bin_}/kafka-topics.sh {connect} --create --if-not-exists --topic {t} --partitions 3"
        for t in all_topics()
    ]
    for principal, operation, kind, name in kafka_acls(services):
        pattern = " --resource-pattern-type prefixed" if kind == "group" else ""
        steps.append(
            f"{bin_}/kafka-acls.sh {connect} --add --allow-principal User:{principal}"
            f" --operation {operation} --{kind} {name}{pattern}"
        )
    return {
        "image": KAFKA_IMAGE,
        "command": ["sh", "-ec", " && ".join(steps)],
        "environment": {"ADMIN_PASSWORD": password_ref(KAFKA_ADMIN, "KAFKA")},
        "depends_on": {"kafka": {"condition": "service_healthy"}},
        "restart": "no",
    }


def broker(services: list[Service]) -> dict[str, Any]:
    """One KRaft node; every client authenticates, and nothing is allowed without an ACL."""
    service: dict[str, Any] = {
        "image": KAFKA_IMAGE,
        "environment": {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            # Clients authenticate (SASL PLAIN, one principal per service) on BROKER; the
            # controller listens on the container's loopback only.
            "KAFKA_LISTENERS": "BROKER://:9092,CONTROLLER://localhost:9093",
            "KAFKA_ADVERTISED_LISTENERS": "BROKER://kafka:9092",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": ("CONTROLLER:PLAINTEXT,BROKER:SASL_PLAINTEXT"),
            "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
            "KAFKA_SASL_ENABLED_MECHANISMS": "PLAIN",
            "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL": "PLAIN",
            "KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG": jaas_config(services),
            "KAFKA_AUTHORIZER_CLASS_NAME": (
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            ),
            # ANONYMOUS is the broker itself on the loopback controller listener.
            "KAFKA_SUPER_USERS": f"User:{KAFKA_ADMIN};User:ANONYMOUS",
            "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_NUM_PARTITIONS": "3",
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        },
        "volumes": ["kafka-data:/var/lib/kafka/data"],
        "healthcheck": {
            "test": [
                "CMD-SHELL",
                f"{ADMIN_CLIENT_CONFIG} && /opt/kafka/bin/kafka-broker-api-versions.sh"
                " --bootstrap-server localhost:9092 --command-config /tmp/admin.properties"
                " > /dev/null 2>&1",
            ],
            "interval": "10s",
            "timeout": "10s",
            "retries": 12,
            "start_period": "20s",
        },
    }
    service["environment"]["ADMIN_PASSWORD"] = password_ref(KAFKA_ADMIN, "KAFKA")
    return service
