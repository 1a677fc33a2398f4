"""Idempotent event consumers: inbox row and effect in one transaction, retries, dead letters.

The offset is committed only after the effect committed or the message went to the
dead-letter topic, and a message is never skipped: while neither is possible the consumer
keeps retrying the same message (the partition waits, order is kept).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts import CATALOG, Envelope, EventPayload
from vareon_contracts.envelope import MalformedEvent, decode_kafka
from vareon_contracts.topics import dead_letter_topic

from vareon_chassis.context import causation_id_var, request_id_var

log = structlog.get_logger(__name__)
P = TypeVar("P", bound=EventPayload)
CONSUMED = Counter(
    "vareon_events_consumed_total", "Events consumed", ["consumer", "event_type", "outcome"]
)


class DeadLetter(Exception):
    """Raised by a handler for a message that can never succeed (no retry)."""


@dataclass(frozen=True)
class EventHandler(Generic[P]):
    payload: type[P]
    handle: Callable[[AsyncSession, P, Envelope], Awaitable[None]]


@dataclass
class EventConsumer:
    """One consumer group: its name is the group id and the inbox's consumer column."""

    name: str
    topics: tuple[str, ...]
    handlers: dict[str, EventHandler[Any]] = field(default_factory=dict)
    reset: Callable[[AsyncSession], Awaitable[None]] | None = None
    """Clears this consumer's read model before a full rebuild (``messaging.replay``)."""

    def on(
        self, payload: type[P]
    ) -> Callable[
        [Callable[[AsyncSession, P, Envelope], Awaitable[None]]],
        Callable[[AsyncSession, P, Envelope], Awaitable[None]],
    ]:
        """Register ``fn`` as the handler of ``payload``'s event type."""
        if payload.topic not in self.topics:
            raise ValueError(f"{self.name} does not subscribe to {payload.topic}")

        def register(
            fn: Callable[[AsyncSession, P, Envelope], Awaitable[None]],
        ) -> Callable[[AsyncSession, P, Envelope], Awaitable[None]]:
            self.handlers[payload.event_type] = EventHandler(payload, fn)
            return fn

        return register


class ConsumerRuntime:
    """Runs one EventConsumer's messages against a database and a dead-letter producer."""

    def __init__(
        self,
        consumer: EventConsumer,
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Table,
        producer: AIOKafkaProducer,
        *,
        max_attempts: int = 5,
        backoff_s: float = 0.2,
        crash_after_commit_for: str | None = None,
    ) -> None:
        self.consumer = consumer
        self.sessionmaker = sessionmaker
        self.inbox = inbox
        self.producer = producer
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.crash_after_commit_for = crash_after_commit_for
        """Fault injection for tests only (never set in production): the process exits
        (137, as after SIGKILL) right after applying the event with this id or type, before
        the offset is committed."""

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> str:
        """Apply one record exactly once; returns the outcome. Never raises for bad input."""
        try:
            envelope = decode_kafka(record.value, list(record.headers or []))
        except MalformedEvent as exc:
            return await self._dead_letter(record, "malformed", str(exc))
        if envelope.type not in CATALOG:
            return await self._dead_letter(
                record,
                "unknown-type",
                f"unknown event type {envelope.type!r} "
                f"(a newer version than {self.consumer.name} reads?)",
            )
        handler = self.consumer.handlers.get(envelope.type)
        if handler is None:
            CONSUMED.labels(self.consumer.name, envelope.type, "ignored").inc()
            return "ignored"
        try:
            payload = handler.payload.model_validate(envelope.data)
        except ValidationError as exc:
            return await self._dead_letter(record, "invalid-payload", str(exc))

        for attempt in range(1, self.max_attempts + 1):
            try:
                outcome = await self._apply(handler, payload, envelope)
                if outcome == "applied" and self.crash_after_commit_for in (
                    envelope.id,
                    envelope.type,
                ):
                    log.critical("fault injection: exiting after commit, before ack")
                    os._exit(137)
                CONSUMED.labels(self.consumer.name, envelope.type, outcome).inc()
                return outcome
            except DeadLetter as exc:
                return await self._dead_letter(record, "rejected", str(exc))
            except Exception as exc:
                if attempt == self.max_attempts:
                    return await self._dead_letter(record, "handler-failed", repr(exc))
                log.warning(
                    "event handler failed; retrying",
                    consumer=self.consumer.name,
                    event_id=envelope.id,
                    attempt=attempt,
                    error=repr(exc),
                )
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def _apply(
        self, handler: EventHandler[Any], payload: EventPayload, envelope: Envelope
    ) -> str:
        rid = request_id_var.set(envelope.correlationid or envelope.id)
        cid = causation_id_var.set(envelope.id)
        try:
            async with self.sessionmaker.begin() as session:
                first = await session.scalar(
                    insert(self.inbox)
                    .values(
                        event_id=envelope.id, consumer=self.consumer.name, event_type=envelope.type
                    )
                    .on_conflict_do_nothing()
                    .returning(self.inbox.c.event_id)
                )
                if first is None:
                    return "duplicate"
                await handler.handle(session, payload, envelope)
            return "applied"
        finally:
            causation_id_var.reset(cid)
            request_id_var.reset(rid)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], reason: str, detail: str
    ) -> str:
        headers = [
            *list(record.headers or []),
            ("dlq_reason", reason.encode()),
            ("dlq_error", detail[:4000].encode(errors="replace")),
            ("dlq_consumer", self.consumer.name.encode()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
        ]
        backoff = self.backoff_s
        while True:  # the offset must not move on until the dead letter is safely stored
            try:
                await self.producer.send_and_wait(
                    dead_letter_topic(record.topic),
                    value=record.value,
                    key=record.key,
                    headers=headers,
                )
                break
            except Exception as exc:
                log.warning("dead-letter publish failed; retrying", error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        log.error(
            "event dead-lettered",
            consumer=self.consumer.name,
            reason=reason,
            detail=detail[:500],
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        CONSUMED.labels(self.consumer.name, "?", "dead-lettered").inc()
        return "dead-lettered"
