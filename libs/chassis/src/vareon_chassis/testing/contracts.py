"""Contract tests, both directions (docs/contracts.md, "Contract tests").

Producer side: every outbox row a service writes in its tests must match the committed JSON
Schema of its type, read as a CloudEvent with the official SDK from the exact Kafka form the
relay sends, and be declared in ``SERVICES[service].publishes``. The plugin checks this after
every test (``PublishedEventsWatch``).

Consumer side: ``assert_consumer_accepts_examples`` and ``assert_unknown_version_dead_lettered``
run a service's real ``ConsumerRuntime`` on generated examples of every version it handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from jsonschema import Draft202012Validator, FormatChecker
from polyfactory.factories.pydantic_factory import ModelFactory
from psycopg.rows import namedtuple_row
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts import CATALOG, Envelope, EventPayload, encode_kafka
from vareon_contracts.schemas import SCHEMA_DIR, snapshot_path
from vareon_contracts.services import SERVICES, producer_of
from vareon_contracts.topics import dead_letter_topic

from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import kafka_headers, libpq_url

ACCEPTED = frozenset({"applied", "duplicate", "ignored"})
FUTURE_VERSION = 99

# -- producer side ---------------------------------------------------------------------------


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
def _validator(event_type: str) -> Draft202012Validator | None:
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
    schema, validator = committed_schema(row.event_type), _validator(row.event_type)
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


# -- consumer side ---------------------------------------------------------------------------


class _AwareFactory(ModelFactory[Any]):
    __is_base_factory__ = True

    @classmethod
    def get_provider_map(cls) -> dict[Any, Any]:
        # Payload times are timezone-aware on the wire (format date-time), so examples are too.
        return {
            **super().get_provider_map(),
            datetime: lambda: cls.__faker__.date_time_between(tzinfo=UTC),
        }


def examples(model: type[EventPayload], count: int = 3, seed: int = 0) -> list[EventPayload]:
    """``count`` seeded examples of ``model``, each valid against its committed schema."""
    factory = _AwareFactory.create_factory(model, __random_seed__=seed)
    built = [factory.build() for _ in range(count)]
    validator = _validator(model.event_type)
    for example in built:
        if validator is not None:
            validator.validate(example.model_dump(mode="json"))
    return built


def consumer_record(
    envelope: Envelope, topic: str, offset: int = 0, partition: int = 0
) -> ConsumerRecord[Any, Any]:
    """The record the broker would hand a consumer for ``envelope`` (for ConsumerRuntime)."""
    key, value, headers = encode_kafka(envelope)
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=headers,
    )


class _DeadLetters:
    """The runtime's real producer, remembering the dead letters it sends (reason, error)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.sent: list[dict[str, str]] = []

    async def send_and_wait(self, topic: str, **kwargs: Any) -> Any:
        result = await self.producer.send_and_wait(topic, **kwargs)
        self.sent.append({k: v.decode(errors="replace") for k, v in kwargs.get("headers") or []})
        return result


def _runtime(
    consumer: EventConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    producer: AIOKafkaProducer,
) -> tuple[ConsumerRuntime, _DeadLetters]:
    dead = _DeadLetters(producer)
    runtime = ConsumerRuntime(
        consumer,
        sessionmaker,
        inbox,
        dead,
        max_attempts=1,
        backoff_s=0.01,
    )
    return runtime, dead


async def assert_consumer_accepts_examples(
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    consumer: EventConsumer,
    producer: AIOKafkaProducer,
    *,
    may_reject: Collection[str] = (),
    count: int = 3,
    seed: int = 0,
) -> None:
    """Every handled type and version, ``count`` generated examples each, goes through the
    real runtime as "applied" (then "duplicate" when redelivered), or "ignored".

    ``may_reject``: event types whose handler documents a deliberate ``DeadLetter`` for some
    values (reason ``rejected``); any other dead letter fails, with the handler's error.
    """
    runtime, dead = _runtime(consumer, sessionmaker, inbox, producer)
    failures = []
    for event_type, handler in sorted(consumer.handlers.items()):
        for n, payload in enumerate(examples(handler.payload, count, seed)):
            envelope = Envelope.wrap(payload, source=f"/{producer_of(event_type)}")
            record = consumer_record(envelope, payload.topic, offset=n)
            outcome = await runtime.process(record)
            if outcome == "applied":
                outcome = await runtime.process(record)
                if outcome != "duplicate":
                    failures.append(f"{event_type}: redelivery was {outcome!r}, not 'duplicate'")
            elif outcome not in ACCEPTED:
                letter = dead.sent[-1] if dead.sent else {}
                if letter.get("dlq_reason") == "rejected" and event_type in may_reject:
                    continue
                failures.append(
                    f"{event_type}: {outcome} ({letter.get('dlq_reason')}: "
                    f"{letter.get('dlq_error')}) for {payload.model_dump(mode='json')}"
                )
    assert not failures, f"{consumer.name} rejects valid events:\n" + "\n".join(failures)


async def _read_back(
    bootstrap: str, topic: str, event_id: str, timeout_s: float = 20.0
) -> ConsumerRecord[Any, Any]:
    """The record of ``event_id`` on ``topic``, read from the broker."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    wanted = ("ce_id", event_id.encode())
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        while loop.time() < deadline:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    if wanted in list(record.headers or []):
                        return record
        raise TimeoutError(f"event {event_id} not found on {topic}")
    finally:
        await reader.stop()


def future_version(envelope: Envelope) -> Envelope:
    stem = envelope.type.rpartition(".v")[0]
    return envelope.model_copy(
        update={"type": f"{stem}.v{FUTURE_VERSION}", "id": str(uuid.uuid4())}
    )


async def assert_unknown_version_dead_lettered(
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    consumer: EventConsumer,
    producer: AIOKafkaProducer,
    bootstrap: str,
) -> None:
    """For each topic the consumer reads, a ``.v99`` of a type it handles, produced to the
    real broker and read back, goes to ``<topic>.dlq`` with reason ``unknown-type``, and
    leaves no inbox row (nothing was applied)."""
    runtime, _ = _runtime(consumer, sessionmaker, inbox, producer)
    by_topic = {h.payload.topic: h.payload for h in consumer.handlers.values()}

    async def check(topic: str, model: type[EventPayload]) -> None:
        envelope = future_version(Envelope.wrap(examples(model, 1)[0], source="/contract-test"))
        assert envelope.type not in CATALOG, f"{envelope.type} exists; raise FUTURE_VERSION"
        key, value, headers = encode_kafka(envelope)
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        record = await _read_back(bootstrap, topic, envelope.id)
        outcome = await runtime.process(record)
        assert outcome == "dead-lettered", f"{envelope.type} on {topic}: {outcome}"
        letter = await _read_back(bootstrap, dead_letter_topic(topic), envelope.id)
        reason = dict(letter.headers or []).get("dlq_reason")
        assert reason == b"unknown-type", f"{envelope.type}: dead-lettered as {reason!r}"
        async with sessionmaker() as session:
            rows = await session.scalar(
                select(func.count()).select_from(inbox).where(inbox.c.event_id == envelope.id)
            )
        assert rows == 0, f"{envelope.type} was recorded in the inbox"

    await asyncio.gather(*(check(t, m) for t, m in sorted(by_topic.items())))


def assert_handles_declared(service: str, consumers: Iterable[EventConsumer]) -> None:
    """Every type SERVICES[service].consumes declares has a handler, and only those."""
    handled = {t for c in consumers for t in c.handlers}
    declared = SERVICES[service].consumes
    assert handled == declared, (
        f"{service}: handled but not declared {sorted(handled - declared)}; "
        f"declared but not handled {sorted(declared - handled)}"
    )


@contextlib.asynccontextmanager
async def dead_letter_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer like the service's (acks=all, no idempotence on the embedded broker)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def contract_database(
    infrastructure: Any, service: str, alembic_ini: str | Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh database migrated by the service's history (its outbox is watched too)."""
    engine = create_engine(await infrastructure.migrated_database(service, alembic_ini))
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class ServiceContracts:
    """One service's side of its contracts; its tests/test_contracts.py calls these."""

    service: str
    alembic_ini: str | Path
    outbox: Outbox | None = None
    inbox: Table | None = None
    may_reject: frozenset[str] = frozenset()
    """Types whose handler documents a deliberate DeadLetter for some valid payloads."""
    count: int = 3
    seed: int = 0

    async def assert_publishes_declared(self, infrastructure: Any) -> None:
        """Examples of every type the service declares, staged by its own Outbox, pass
        the producer-side checks; and it has an outbox if it declares anything."""
        declared = sorted(SERVICES[self.service].publishes)
        assert self.outbox is not None or not declared, f"{self.service} has no outbox"
        if self.outbox is None:
            return
        url = await infrastructure.migrated_database(self.service, self.alembic_ini)
        problems, before = check_outbox(url, self.service)  # rows the migrations staged
        assert not problems, "\n".join(problems)
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                for event_type in declared:
                    for payload in examples(CATALOG[event_type], self.count, self.seed):
                        await self.outbox.publish(session, payload)
        finally:
            await engine.dispose()
        problems, last = check_outbox(url, self.service, before)
        assert not problems, "\n".join(problems)
        assert last - before == len(declared) * self.count

    def assert_declared(self, consumers: Sequence[EventConsumer]) -> None:
        assert_handles_declared(self.service, consumers)

    async def assert_accepts_examples(
        self, infrastructure: Any, consumers: Sequence[EventConsumer]
    ) -> None:
        assert self.inbox is not None, f"{self.service} consumes without an inbox"
        async with (
            contract_database(infrastructure, self.service, self.alembic_ini) as sessions,
            dead_letter_producer(infrastructure.kafka_bootstrap) as producer,
        ):
            for consumer in consumers:
                await assert_consumer_accepts_examples(
                    sessions,
                    self.inbox,
                    consumer,
                    producer,
                    may_reject=self.may_reject,
                    count=self.count,
                    seed=self.seed,
                )

    async def assert_unknown_versions_dead_lettered(
        self, infrastructure: Any, consumers: Sequence[EventConsumer]
    ) -> None:
        assert self.inbox is not None, f"{self.service} consumes without an inbox"
        inbox = self.inbox
        async with (
            contract_database(infrastructure, self.service, self.alembic_ini) as sessions,
            dead_letter_producer(infrastructure.kafka_bootstrap) as producer,
        ):
            await asyncio.gather(
                *(
                    assert_unknown_version_dead_lettered(
                        sessions, inbox, c, producer, infrastructure.kafka_bootstrap
                    )
                    for c in consumers
                )
            )
