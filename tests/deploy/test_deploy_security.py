"""What compose and Kubernetes configure for the security review (issue 16 items 4, 17)."""

from __future__ import annotations

from vareon_contracts import topics
from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.services import SERVICES


def kafka_users(services) -> list:
    return [s for s in services if "kafka_bootstrap" in s.fields]


def test_databases_need_per_service_passwords_from_the_environment(services, compose_file):
    """Issue 16 item 17: every PostgreSQL trusted any container on the network."""
    compose = compose_file["services"]
    for s in (s for s in services if s.has_database):
        db = compose[f"{s.name}-db"]
        assert "POSTGRES_HOST_AUTH_METHOD" not in db["environment"], s.name
        secret = f"{s.name}-db-password"
        assert db["environment"]["POSTGRES_PASSWORD_FILE"] == f"/run/secrets/{secret}"
        assert secret in db["secrets"]
        variable = f"VAREON_{s.name.upper()}_DB_PASSWORD"
        assert compose_file["secrets"][secret] == {"environment": variable}
        for user in (s.name, f"{s.name}-migrate"):
            url = compose[user]["environment"][s.env("database_url")]
            assert url.startswith(f"postgresql+psycopg://{s.name}:${{{variable}:?"), url


def test_every_service_is_its_own_kafka_principal(services, compose_file):
    """Issue 16 item 17: Kafka was PLAINTEXT without authentication: any container could
    publish `UserDeleted` or `BalanceChanged`."""
    kafka = compose_file["services"]["kafka"]["environment"]
    assert "BROKER:SASL_PLAINTEXT" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert kafka["KAFKA_LISTENERS"].startswith("BROKER://:9092,CONTROLLER://localhost:")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    jaas = kafka["KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG"]
    for s in kafka_users(services):
        env = compose_file["services"][s.name]["environment"]
        assert env[s.env("kafka_security_protocol")] == "SASL_PLAINTEXT"
        assert env[s.env("kafka_sasl_username")] == s.name
        variable = f"VAREON_{s.name.upper()}_KAFKA_PASSWORD"
        assert env[s.env("kafka_sasl_password")].startswith(f"${{{variable}:?")
        assert f'user_{s.name}="${{{variable}:?' in jaas
        assert compose_file["services"][s.name]["depends_on"]["kafka-acls"] == {
            "condition": "service_completed_successfully"
        }


def test_topic_acls_follow_the_contracts(services, compose_file):
    """Issue 16 item 17: each principal writes only the topics its service publishes."""
    acls = set(generate_acls(services))
    for s in kafka_users(services):
        own = {CATALOGUE[t].topic for t in SERVICES[s.name].publishes}
        written = {name for p, op, kind, name in acls if p == s.name and op == "Write"}
        dead_letters = {n for n in written if n.endswith(topics.DLQ_SUFFIX)}
        assert written - dead_letters == own, s.name
        read = {CATALOGUE[t].topic for t in SERVICES[s.name].consumes} | {topics.IDENTITY_SESSION}
        assert read <= {name for p, op, kind, name in acls if p == s.name and op == "Read"}
    assert not [
        a for a in acls if a[1] == "Write" and a[3] == topics.IDENTITY_USER and a[0] != "identity"
    ]
    command = " ".join(compose_file["services"]["kafka-acls"]["command"])
    for principal, operation, kind, name in acls:
        assert (
            f"--allow-principal User:{principal} --operation {operation} --{kind} {name}" in command
        )


def generate_acls(services):
    import vareon_deploy_generate as generate

    return generate.kafka_acls(services)


def test_identity_believes_forwarded_for_only_from_the_gateway(services, compose_file, rendered):
    """Issue 16 item 4: uvicorn trusted X-Forwarded-For from 127.0.0.1 only, so behind the
    gateway every client had the gateway's address."""
    (identity,) = [s for s in services if s.signs_tokens]
    gateway = compose_file["services"]["gateway"]
    address = gateway["networks"]["default"]["ipv4_address"]
    env = compose_file["services"][identity.name]["environment"]
    assert env[identity.env("trusted_proxies")] == address
    for overlay, objects in rendered.items():
        [config] = [
            o
            for o in objects
            if o["kind"] == "ConfigMap" and identity.env("trusted_proxies") in (o.get("data") or {})
        ]
        assert config["data"][identity.env("trusted_proxies")], overlay


def test_the_secrets_helper_covers_every_password_compose_needs(services):
    import re

    import vareon_deploy_generate as generate

    text = generate.dump(generate.compose(services))
    needed = set(re.findall(r"\$\{(VAREON_\w+_PASSWORD):\?", text))
    lines = generate.compose_secrets(services).splitlines()
    assert {line.split("=")[0] for line in lines} == needed
    assert all(len(line.split("=")[1]) == 48 for line in lines)
