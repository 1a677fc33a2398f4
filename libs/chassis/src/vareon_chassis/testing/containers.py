"""Test infrastructure from testcontainers, used instead of the embedded parts when a Docker
engine answers (or VAREON_TEST_BACKEND=containers). Not exercised on machines without Docker."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

POSTGRES_IMAGE = "postgres:17-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # what testcontainers' KafkaContainer drives


def docker_engine_answers(timeout_s: float = 0.5) -> bool:
    """True when the local Docker socket answers a ping (DOCKER_HOST over TCP counts too)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout_s)
            sock.connect(host.removeprefix("unix://"))
        elif host.startswith("tcp://"):
            address, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.create_connection((address, int(port or 2375)), timeout_s)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return sock.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except (OSError, IndexError, ValueError):
        return False


def use_containers() -> bool:
    backend = os.environ.get("VAREON_TEST_BACKEND", "auto")
    if backend == "containers":
        return True
    return backend == "auto" and docker_engine_answers()


@contextlib.contextmanager
def container_servers() -> Iterator[tuple[str, str]]:
    """Start PostgreSQL and Apache Kafka (KRaft) containers; yields (admin URL, bootstrap)."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with (
        PostgresContainer(POSTGRES_IMAGE, driver=None) as postgres,
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
    ):
        yield postgres.get_connection_url(), kafka.get_bootstrap_server()
