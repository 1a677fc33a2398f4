"""Idempotent event consumers: inbox row and effect in one transaction, retries, dead letters.

Over 400 lines as one idea: the single-event and the batched path share the retry, outage
and dead-letter rules, which are only checkable side by side.

The offset is committed only after the effect committed or the message went to the
dead-letter topic, and a message is never skipped: while neither is possible the consumer
keeps retrying the same message (the partition waits, order is kept).

An outage is not a poison message: a failure of the infrastructure (database or broker
unreachable, a dropped connection, a serialization failure or deadlock) says nothing about
the message, so it is retried without limit, with capped backoff, and never counts towards
``max_attempts``; only the handler's own failures lead to a dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import Table, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts import CATALOGUE, Envelope, EventPayload
from vareon_contracts.envelope import MalformedEvent, decode_kafka
from vareon_contracts.topics import dead_letter_topic

from vareon_chassis.context import causation_id_var, request_id_var
from vareon_chassis.messaging.relay import refresh_metadata
from vareon_chassis.messaging.suppress import side_effects_suppressed
from vareon_chassis.metrics import CONSUMER_RETRIES, DEAD_LETTERS
from vareon_chassis.telemetry import consume_span

log = structlog.get_logger(__name__)
P = TypeVar("P", bound=EventPayload)
CONSUMED = Counter(
    "vareon_events_consumed_total", "Events consumed", ["consumer", "event_type", "outcome"]
)
STALLED = Gauge(
    "vareon_consumer_stalled",
    "1 while a consumer waits out an infrastructure outage (its partition does not move)",
    ["consumer"],
)
OUTAGE_RETRIES = Counter(
    "vareon_consumer_outage_retries_total",
    "Retries of an event because the infrastructure (not the event) failed",
    ["consumer"],
)
OUTAGE_BACKOFF_CAP_S = 5.0
KeepAlive = Callable[[], Awaitable[None]]
Plain = tuple[ConsumerRecord[bytes, bytes], "EventHandler[Any]", EventPayload, Envelope]
"""A record that decoded to an event this consumer handles, ready to apply."""
"""Called between outage retries: keeps the consumer's group membership alive."""

_OUTAGES: tuple[type[BaseException], ...] = (
    # SQLAlchemy wraps psycopg.OperationalError (connection lost or refused, serialization
    # failure, deadlock: psycopg's TransactionRollback), and raises TimeoutError for the pool.
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    ConnectionError,
)


def is_outage(exc: BaseException) -> bool:
    """The infrastructure failed, not the message: retrying later can succeed."""
    seen: BaseException | None = exc
    for _ in range(8):  # a handler may wrap the driver's error
        if seen is None:
            return False
        if isinstance(getattr(seen, "orig", seen), psycopg.errors.QueryCanceled):
            return False  # a statement timeout: this message's work may be what is too slow
        if isinstance(seen, _OUTAGES):
            return True
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class Outage:
    """What a consumer is waiting out: since when, how many retries, the last error."""

    since: float
    error: str
    retries: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "since_s": round(time.time() - self.since, 3),
            "retries": self.retries,
            "error": self.error[:300],
        }


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
        outage_backoff_cap_s: float = OUTAGE_BACKOFF_CAP_S,
        erased: str | None = None,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
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
        self.producer_factory = producer_factory
        """After a failed dead-letter write, a fresh producer (as the relay does): it refetches
        metadata, which re-creates topics on a broker that restarted empty."""
        self._own_producer: AIOKafkaProducer | None = None
        self.outage_backoff_cap_s = outage_backoff_cap_s
        self.outage: Outage | None = None
        """Set while the runtime retries an infrastructure failure (readiness reports it)."""
        self.erased = erased
        """Rebuild only: the inbox's ``consumer`` value under which the rebuild kept the rows
        it erased. An event found there was applied (and announced) before: it is applied
        again with side effects suppressed; any other event is applied as new."""

    async def process(
        self, record: ConsumerRecord[bytes, bytes], keepalive: KeepAlive | None = None
    ) -> str:
        """Apply one record exactly once; returns the outcome. Never raises for bad input."""
        with consume_span(self.consumer.name, record) as span:
            span["outcome"] = await self._process(record, keepalive)
            return span["outcome"]

    async def _process(
        self, record: ConsumerRecord[bytes, bytes], keepalive: KeepAlive | None = None
    ) -> str:
        try:
            envelope = decode_kafka(record.value, list(record.headers or []))
        except MalformedEvent as exc:
            return await self._dead_letter(record, "malformed", str(exc), keepalive)
        if envelope.type not in CATALOGUE:
            return await self._dead_letter(
                record,
                "unknown-type",
                f"unknown event type {envelope.type!r} "
                f"(a newer version than {self.consumer.name} reads?)",
                keepalive,
            )
        handler = self.consumer.handlers.get(envelope.type)
        if handler is None:
            CONSUMED.labels(self.consumer.name, envelope.type, "ignored").inc()
            return "ignored"
        try:
            payload = handler.payload.model_validate(envelope.data)
        except ValidationError as exc:
            return await self._dead_letter(record, "invalid-payload", str(exc), keepalive)

        attempt, outage_backoff = 0, self.backoff_s
        while True:
            attempt += 1
            try:
                outcome = await self._apply(handler, payload, envelope)
                self._outage_over()
                if outcome == "applied" and self.crash_after_commit_for in (
                    envelope.id,
                    envelope.type,
                ):
                    log.critical("fault injection: exiting after commit, before ack")
                    os._exit(137)
                CONSUMED.labels(self.consumer.name, envelope.type, outcome).inc()
                return outcome
            except DeadLetter as exc:
                self._outage_over()
                return await self._dead_letter(record, "rejected", str(exc), keepalive)
            except Exception as exc:
                if is_outage(exc):
                    attempt -= 1  # not the message's fault: never a step towards a dead letter
                    await self._wait_out(exc, envelope.id, outage_backoff, keepalive)
                    outage_backoff = min(outage_backoff * 2, self.outage_backoff_cap_s)
                    continue
                self._outage_over()
                if attempt >= self.max_attempts:
                    return await self._dead_letter(record, "handler-failed", repr(exc), keepalive)
                CONSUMER_RETRIES.labels(self.consumer.name, envelope.type).inc()
                log.warning(
                    "event handler failed; retrying",
                    consumer=self.consumer.name,
                    event_id=envelope.id,
                    attempt=attempt,
                    error=repr(exc),
                )
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))

    async def process_batch(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], keepalive: KeepAlive | None = None
    ) -> list[str]:
        """Apply ``records`` in order, exactly once each; returns their outcomes.

        Consecutive records that decode to a handled event share one transaction (one
        commit, and one inbox statement for them all, not one per event). Whatever is not a
        plain apply goes through ``process`` alone, in order: a record to dead-letter, a
        handler failure (the transaction is rolled back, the records before it are applied
        again without it and committed, then it is retried from scratch: one attempt more
        than ``process`` alone makes), an outage or a failed commit (nothing of the run is
        committed; its first record is processed alone, which waits the outage out). The
        caller commits offsets after this returns."""
        outcomes: list[str] = []
        i = 0
        while i < len(records):
            run = self._plain_run(records, i)
            if not run:
                outcomes.append(await self.process(records[i], keepalive))
                i += 1
                continue
            try:
                applied = await self._apply_run(run)
            except Exception:  # an outage, or the commit failed: nothing of it was committed
                applied = []
            if applied:
                self._outage_over()
            for (_, _, _, envelope), outcome in zip(run, applied, strict=False):
                CONSUMED.labels(self.consumer.name, envelope.type, outcome).inc()
            outcomes += applied
            i += len(applied)
            if len(applied) < len(run):  # the next record failed in the batch: alone
                outcomes.append(await self.process(records[i], keepalive))
                i += 1
        return outcomes

    def _plain_run(self, records: Sequence[ConsumerRecord[bytes, bytes]], at: int) -> list[Plain]:
        """The records from ``at`` on that are handled events, up to the first that is not."""
        run: list[Plain] = []
        if self.crash_after_commit_for is not None:
            return run  # fault injection exits after a single event's commit
        for record in records[at:]:
            try:
                envelope = decode_kafka(record.value, list(record.headers or []))
            except MalformedEvent:
                break
            handler = self.consumer.handlers.get(envelope.type)
            if envelope.type not in CATALOGUE or handler is None:
                break
            try:
                payload = handler.payload.model_validate(envelope.data)
            except ValidationError:
                break
            run.append((record, handler, payload, envelope))
        return run

    async def _apply_run(self, run: list[Plain]) -> list[str]:
        """One transaction for ``run``, no savepoints: the inbox rows of the whole run in one
        statement, then the handlers. A handler failure rolls it all back and the records
        before the failing one are applied again without it; returns the outcomes of the
        committed prefix. An outage or a failed commit raises (nothing committed)."""
        outcomes: list[str] = []
        failed = False
        async with self.sessionmaker() as session, session.begin():
            again, fresh = await self._claim(session, [envelope for *_, envelope in run])
            for record, handler, payload, envelope in run:
                with consume_span(self.consumer.name, record) as span:
                    if envelope.id not in fresh and envelope.id not in again:
                        span["outcome"] = "duplicate"
                        outcomes.append("duplicate")
                        continue
                    try:
                        await self._handle(
                            session, handler, payload, envelope, envelope.id in again
                        )
                    except Exception as exc:
                        if is_outage(exc):
                            raise
                        failed = True
                        break
                    fresh.discard(envelope.id)
                    again.discard(envelope.id)  # a second copy later in the run: a duplicate
                    span["outcome"] = "applied"
                    outcomes.append("applied")
            if failed:
                await session.rollback()
        if failed and outcomes:
            return await self._apply_run(run[: len(outcomes)])
        return [] if failed else outcomes

    async def _claim(
        self, session: AsyncSession, envelopes: list[Envelope]
    ) -> tuple[set[str], set[str]]:
        """The inbox rows of a run, two statements at most: the ids a rebuild erased and
        this run takes back (``again``), and the ids inserted now (``fresh``). An id in
        neither was applied before."""
        ids = sorted({e.id for e in envelopes})  # one order: concurrent claims do not deadlock
        again: set[str] = set()
        if self.erased is not None:
            again = set(
                await session.scalars(
                    update(self.inbox)
                    .where(self.inbox.c.event_id.in_(ids), self.inbox.c.consumer == self.erased)
                    .values(consumer=self.consumer.name)
                    .returning(self.inbox.c.event_id)
                )
            )
        types = {e.id: e.type for e in envelopes}
        rows = [
            {"event_id": i, "consumer": self.consumer.name, "event_type": types[i]}
            for i in ids
            if i not in again
        ]
        claim = insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.event_id)
        if len(rows) == 1:  # one statement either way; this form skips executemany's costs
            return again, set(await session.scalars(claim.values(rows)))
        return again, set(await session.scalars(claim, rows)) if rows else set()

    async def _wait_out(
        self, exc: Exception, event_id: str, delay: float, keepalive: KeepAlive | None
    ) -> None:
        if self.outage is None:
            self.outage = Outage(time.time(), repr(exc))
            STALLED.labels(self.consumer.name).set(1)
            log.error(
                "infrastructure outage; the partition waits (no dead letter)",
                consumer=self.consumer.name,
                event_id=event_id,
                error=repr(exc),
            )
        self.outage.retries += 1
        self.outage.error = repr(exc)
        OUTAGE_RETRIES.labels(self.consumer.name).inc()
        if keepalive is not None:
            with contextlib.suppress(Exception):  # best effort; the next retry calls it again
                await keepalive()
        await asyncio.sleep(delay)

    def _outage_over(self) -> None:
        if self.outage is not None:
            log.info(
                "infrastructure back; consuming again",
                consumer=self.consumer.name,
                retries=self.outage.retries,
            )
            self.outage = None
            STALLED.labels(self.consumer.name).set(0)

    async def _apply(
        self, handler: EventHandler[Any], payload: EventPayload, envelope: Envelope
    ) -> str:
        async with self.sessionmaker.begin() as session:
            return await self._apply_in(session, handler, payload, envelope)

    async def _apply_in(
        self,
        session: AsyncSession,
        handler: EventHandler[Any],
        payload: EventPayload,
        envelope: Envelope,
    ) -> str:
        """Inbox row and effect of one event in ``session``'s transaction."""
        again, fresh = await self._claim(session, [envelope])
        if not again and not fresh:
            return "duplicate"
        await self._handle(session, handler, payload, envelope, bool(again))
        return "applied"

    async def _handle(
        self,
        session: AsyncSession,
        handler: EventHandler[Any],
        payload: EventPayload,
        envelope: Envelope,
        again: bool,
    ) -> None:
        """The handler, in the event's context; an event a rebuild erased is applied
        again with its side effects suppressed (it was announced when first applied)."""
        rid = request_id_var.set(envelope.correlationid or envelope.id)
        cid = causation_id_var.set(envelope.id)
        try:
            with side_effects_suppressed() if again else contextlib.nullcontext():
                await handler.handle(session, payload, envelope)
        finally:
            causation_id_var.reset(cid)
            request_id_var.reset(rid)

    async def _dead_letter(
        self,
        record: ConsumerRecord[bytes, bytes],
        reason: str,
        detail: str,
        keepalive: KeepAlive | None = None,
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
                producer = await self._dead_letter_producer()
                await refresh_metadata(producer)
                await producer.send_and_wait(
                    dead_letter_topic(record.topic),
                    value=record.value,
                    key=record.key,
                    headers=headers,
                )
                self._outage_over()
                break
            except Exception as exc:
                await self._drop_own_producer()
                await self._wait_out(exc, f"dead letter of {record.offset}", backoff, keepalive)
                backoff = min(backoff * 2, self.outage_backoff_cap_s)
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
        DEAD_LETTERS.labels(self.consumer.name, record.topic, reason).inc()
        return "dead-lettered"

    async def _dead_letter_producer(self) -> AIOKafkaProducer:
        if self._own_producer is not None:
            return self._own_producer
        if self.outage is None or self.producer_factory is None:
            return self.producer
        producer = self.producer_factory()
        await producer.start()
        self._own_producer = producer
        return producer

    async def _drop_own_producer(self) -> None:
        producer, self._own_producer = self._own_producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5.0)

    async def close(self) -> None:
        """Stop the fresh dead-letter producer, if a failure made one."""
        await self._drop_own_producer()
