"""Consumer side of the contract tests (docs/contracts.md, "Contract tests"):
``assert_consumer_accepts_examples`` and ``assert_unknown_version_dead_lettered`` run a
service's real ``ConsumerRuntime`` on generated examples of every version it handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from polyfactory.factories.pydantic_factory import ModelFactory
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts import CATALOGUE, Envelope, EventPayload, encode_kafka
from vareon_contracts.services import SERVICES, producer_of
from vareon_contracts.topics import dead_letter_topic

from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.testing.producer_checks import schema_validator

ACCEPTED = frozenset({"applied", "duplicate", "ignored"})

FUTURE_VERSION = 99


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
    validator = schema_validator(model.event_type)
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

    @property
    def client(self) -> Any:  # the runtime refreshes metadata through it before sending
        return self.producer.client

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
        assert envelope.type not in CATALOGUE, f"{envelope.type} exists; raise FUTURE_VERSION"
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
