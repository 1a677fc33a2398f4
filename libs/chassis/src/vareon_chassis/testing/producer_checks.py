"""Producer side of the contract tests (docs/contracts.md, "Contract tests"): every outbox row
a service writes in its tests must match the committed JSON Schema of its type, read as a
CloudEvent with the official SDK from the exact Kafka form the relay sends, and be declared in
``SERVICES[service].publishes``. The plugin checks this after every test
(``PublishedEventsWatch``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import psycopg
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from jsonschema import Draft202012Validator, FormatChecker
from psycopg.rows import namedtuple_row
from vareon_contracts.schemas import SCHEMA_DIR, snapshot_path
from vareon_contracts.services import SERVICES

from vareon_chassis.messaging.relay import kafka_headers, libpq_url

FORMATS = FormatChecker()


@FORMATS.checks("time", raises=ValueError)
def _time_of_day(value: object) -> bool:
    # Pydantic writes a ``time`` as ISO 8601, offset optional (a wall-clock time such as a
    # rule's active_from has none); RFC 3339's full-time, JSON Schema's default, needs one.
    if isinstance(value, str):
        time.fromisoformat(value)
    return True


@functools.cache
def committed_schema(event_type: str) -> dict[str, Any] | None:
    path = snapshot_path(event_type, SCHEMA_DIR)
    return json.loads(path.read_text()) if path.exists() else None


@functools.cache
def schema_validator(event_type: str) -> Draft202012Validator | None:
    schema = committed_schema(event_type)
    return None if schema is None else Draft202012Validator(schema, format_checker=FORMATS)


def kafka_message(row: Any) -> KafkaMessage:
    """The record the relay sends for an outbox row (``OutboxRelay._send``)."""
    return KafkaMessage(
        headers=dict(kafka_headers(row.headers)),
        key=row.key.encode() if row.key is not None else None,
        value=json.dumps(row.payload, separators=(",", ":")).encode(),
    )


def outbox_row_problems(service: str, row: Any, publishes_for: Collection[str] = ()) -> list[str]:
    """What is wrong with one outbox row (``id, event_id, topic, key, event_type, headers,
    payload``) published by ``service``: one line a problem, naming the type and the field.

    ``publishes_for``: other services a test deliberately stages events for in this outbox.
    """
    where = f"{row.event_type} (outbox id {row.id})"
    problems = []
    contract = SERVICES.get(service)
    allowed = {t for s in publishes_for if s in SERVICES for t in SERVICES[s].publishes}
    if contract is not None and row.event_type not in contract.publishes | allowed:
        problems.append(
            f"{where}: {service} publishes it but SERVICES[{service!r}].publishes does not "
            "declare it (libs/contracts/src/vareon_contracts/services.py)"
        )
    schema, validator = committed_schema(row.event_type), schema_validator(row.event_type)
    if schema is None or validator is None:
        problems.append(
            f"{where}: no committed schema libs/contracts/schemas/{row.event_type}.json"
        )
    else:
        for error in sorted(validator.iter_errors(row.payload), key=lambda e: str(e.path)):
            name = ".".join(str(p) for p in error.absolute_path) or "(payload)"
            rule = "/".join(str(p) for p in error.absolute_schema_path)
            problems.append(f"{where}: field {name!r}: {error.message} (schema: {rule})")
        if row.topic != schema.get("x-topic"):
            problems.append(f"{where}: topic {row.topic!r}, the schema says {schema['x-topic']!r}")
        key = row.payload.get(schema.get("x-key")) if isinstance(row.payload, dict) else None
        if row.key != (None if key is None else str(key)):
            problems.append(
                f"{where}: Kafka key {row.key!r} is not the payload's {schema.get('x-key')!r} "
                f"({key!r})"
            )
    try:
        event = from_binary_event(kafka_message(row))
    except Exception as exc:
        problems.append(f"{where}: not a CloudEvent in Kafka binary mode: {exc}")
        return problems
    expected = {
        "type": row.event_type,
        "id": str(row.event_id),
        "datacontenttype": "application/json",
        "subject": row.key,
    }
    attributes = event.get_attributes()
    problems += [
        f"{where}: CloudEvent attribute {name!r} is {attributes.get(name)!r}, expected {value!r}"
        for name, value in expected.items()
        if attributes.get(name) != value
    ]
    sent_at = event.get_time()
    if sent_at is None or sent_at.tzinfo is None:
        problems.append(f"{where}: CloudEvent attribute 'time' is missing or has no time zone")
    return problems


def check_outbox(
    database_url: str, service: str, after_id: int = 0, publishes_for: Collection[str] = ()
) -> tuple[list[str], int]:
    """Problems of the outbox rows with an id above ``after_id``, and the highest id seen.

    One query; a database without an outbox table has nothing to check.
    """
    try:
        with psycopg.connect(libpq_url(database_url), row_factory=namedtuple_row) as conn:
            rows: list[Any] = conn.execute(
                "SELECT id, event_id, topic, key, event_type, headers, payload"
                " FROM outbox WHERE id > %s ORDER BY id",
                (after_id,),
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return [], after_id
    problems = [p for row in rows for p in outbox_row_problems(service, row, publishes_for)]
    return problems, max((r.id for r in rows), default=after_id)


@dataclass
class _Watched:
    url: str
    service: str
    directory: str
    last_id: int = 0


@dataclass
class PublishedEventsWatch:
    """Checks, after each test, the outbox of every service database the test used.

    ``migrated`` is the session's list of ``(service, url)`` (``Infrastructure.migrated``).
    Databases created during the test are checked once, in full; databases created by
    module- or session-scoped fixtures are checked after every test of the same test
    directory, from where the last check stopped. Prefixes not in SERVICES are skipped.
    """

    migrated: list[tuple[str, str]]
    seen: int = 0
    shared: list[_Watched] = field(default_factory=list)

    def _new(self, directory: str) -> list[_Watched]:
        new = [
            _Watched(url, service, directory)
            for service, url in self.migrated[self.seen :]
            if service in SERVICES
        ]
        self.seen = len(self.migrated)
        return new

    def begin(self, directory: str) -> None:
        self.shared += self._new(directory)  # created by wider-scoped fixtures

    def finish(self, directory: str, publishes_for: Collection[str] = ()) -> list[str]:
        problems = []
        for watched in [*self._new(directory), *self.shared]:
            if watched.directory != directory:
                continue
            found, watched.last_id = check_outbox(
                watched.url, watched.service, watched.last_id, publishes_for
            )
            problems += [f"{watched.service}: {p}" for p in found]
        return problems
