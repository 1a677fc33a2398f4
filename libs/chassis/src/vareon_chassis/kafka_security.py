"""Kafka client security from settings: PLAINTEXT (embedded, dev), TLS, SASL (SCRAM/PLAIN).

Managed Kafka and the compose stack need every client (producer, consumers, admin) to
authenticate as its service's principal; the broker's ACLs then decide which topics each
principal may write and read (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from vareon_chassis.settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client of this service."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if protocol.startswith("SASL_"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise ValueError(
                f"{protocol} needs the service's SASL username and password "
                "(<PREFIX>_KAFKA_SASL_USERNAME, <PREFIX>_KAFKA_SASL_PASSWORD)"
            )
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
        }
    return options


def faststream_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The same, as FastStream's KafkaBroker wants it."""
    options = client_options(settings)
    if not options:
        return None
    ssl_context = options.get("ssl_context")
    use_ssl = ssl_context is not None
    if "sasl_mechanism" not in options:
        return BaseSecurity(ssl_context=ssl_context, use_ssl=use_ssl)
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[options["sasl_mechanism"]](
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=ssl_context,
        use_ssl=use_ssl,
    )


_process_options: dict[str, Any] = {}


def configure(settings: ServiceSettings) -> None:
    """Remember this process's options for the helpers that take only a bootstrap address
    (offsets, replay, dead letters, topic creation). `create_service` calls it."""
    _process_options.clear()
    _process_options.update(client_options(settings))


def options() -> dict[str, Any]:
    return dict(_process_options)
