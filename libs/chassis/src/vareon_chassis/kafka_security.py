"""Kafka client security from settings: PLAINTEXT (embedded, dev), TLS, SASL (SCRAM/PLAIN).

Managed Kafka and the compose stack need every client (producer, consumers, admin) to
authenticate as its service's principal; the broker's ACLs then decide which topics each
principal may write and read (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

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
