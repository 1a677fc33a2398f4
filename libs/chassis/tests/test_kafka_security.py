"""Kafka client security from settings (issue 16 item 17)."""

from __future__ import annotations

import ssl

import pytest
from faststream.security import SASLScram512
from vareon_chassis.kafka_security import client_options, faststream_security
from vareon_chassis.settings import ServiceSettings


def test_plaintext_adds_nothing() -> None:
    settings = ServiceSettings()
    assert client_options(settings) == {}
    assert faststream_security(settings) is None


def test_sasl_ssl_authenticates_as_the_service() -> None:
    """Issue 16 item 17: there was no way to give a service its own broker principal."""
    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="wallet",
        kafka_sasl_password="s3cret",
    )
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("wallet", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert isinstance(faststream_security(settings), SASLScram512)
    assert "s3cret" not in repr(settings)


def test_sasl_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="SASL username and password"):
        client_options(ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT"))
