"""Outbox relay: publishes committed outbox rows in order and marks them sent after the ack.

One relay publishes at a time per database (a transaction-scoped advisory lock), so that
replicas never interleave one key's events; rows are claimed with FOR UPDATE SKIP LOCKED in
id order and marked sent only after the broker acknowledged every record of the batch.

Per-key order under a broker stall: without idempotence, two producer batches of one partition
in flight can land out of order when the older one times out and is written later (or retried
after the younger). So a batch of rows goes out in chunks of at most ``IN_FLIGHT_BYTES``, each
acknowledged before the next is queued: a chunk holds at most one producer batch per partition,
and nothing after a failed chunk was ever sent (``bench/outbox.py`` measures the cost).

A poison row (larger than the producer's ``max_request_size``, or for a topic name the broker
can never create) would fail its batch for ever: it is quarantined instead (``quarantined_at``
and the reason set; reported in status and ``vareon_outbox_quarantined``), later rows flow, and
later rows of the same topic and key wait behind it until ``replay quarantine retry|drop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from prometheus_client import Counter, Gauge
from sqlalchemy import CursorResult, Table, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_chassis.messaging.outbox import NOTIFY_CHANNEL
from vareon_chassis.messaging.wake import announce
from vareon_chassis.metrics import RELAY_BATCHES, RELAY_ERRORS
from vareon_chassis.telemetry import publish_headers

log = structlog.get_logger(__name__)
RELAY_LOCK_ID = 0x7661_7265_6F6E  # "vareon": one publishing relay per service database
PUBLISHED = Counter("vareon_outbox_published_total", "Outbox rows published", ["service"])
PENDING = Gauge("vareon_outbox_pending", "Outbox rows not yet published", ["service"])
QUARANTINED = Gauge(
    "vareon_outbox_quarantined", "Outbox rows that can never be published as they are", ["service"]
)
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
PURGE_INTERVAL_S = 3600.0
IN_FLIGHT_BYTES = 8192
"""Half the producer's ``max_batch_size`` (16 KiB): a chunk never spills into a second batch
of one partition."""
RECORD_OVERHEAD_BYTES = 80  # record framing and varints, rounded up


def libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


async def refresh_metadata(producer: AIOKafkaProducer) -> None:
    """Raise unless a reachable broker just answered ``producer``'s metadata request.

    Queued without it, records wait for an unreachable broker to return; one that returns
    empty (the embedded broker keeps topics in memory) acknowledges records for topics it
    never created and stores them nowhere a consumer reads. With metadata fresh from a
    reachable broker, ``send()`` has a missing topic created before it sends."""
    if not await producer.client.force_metadata_update():
        raise KafkaConnectionError("the broker is unreachable; nothing was queued")


def kafka_headers(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in headers.items()]


class OutboxRelay:
    def __init__(
        self,
        table: Table,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        database_url: str,
        service: str,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        listen: bool = True,
        retention_days: float = 0.0,
        wake_dir: str | None = None,
    ) -> None:
        self.table = table
        self.sessionmaker = sessionmaker
        self.producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self.database_url = libpq_url(database_url)
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.listen = listen
        self.retention_days = retention_days
        self.wake_dir = wake_dir
        """Consumers on this host to wake once a batch is acknowledged (``messaging.wake``)."""
        self._wake = asyncio.Event()
        self._purged_at = 0.0
        self.standing_by = False
        """Another relay held the publishing lock at the last attempt."""

    async def relay_batch(self) -> int:
        """Publish up to one batch of pending rows; returns how many were sent."""
        t = self.table
        async with self.sessionmaker.begin() as session:
            self.standing_by = not await session.scalar(
                select(func.pg_try_advisory_xact_lock(RELAY_LOCK_ID))
            )
            if self.standing_by:
                return 0
            q = t.alias("quarantined")
            behind_poison = exists().where(
                q.c.quarantined_at.is_not(None),
                q.c.sent_at.is_(None),
                q.c.topic == t.c.topic,
                q.c.key.is_not_distinct_from(t.c.key),
                q.c.id < t.c.id,
            )
            rows = (
                await session.execute(
                    select(t.c.id, t.c.topic, t.c.key, t.c.headers, t.c.payload)
                    .where(t.c.sent_at.is_(None), t.c.quarantined_at.is_(None), ~behind_poison)
                    .order_by(t.c.id)
                    .limit(self.batch_size)
                    .with_for_update(of=t, skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            try:
                poison = await self._send(rows)
            except BaseException:
                # A fresh producer refetches metadata, which re-creates topics on a broker
                # that restarted empty; a stale one may produce into topics that no longer
                # exist (the embedded broker even acknowledges that).
                await self._drop_producer()
                raise
            if self.wake_dir is not None:
                announce(self.wake_dir, {r.topic for r in rows if r.id not in poison})
            first_poison: dict[tuple[str, str | None], int] = {}
            for r in rows:
                if r.id in poison:
                    first_poison.setdefault((r.topic, r.key), r.id)
            sent = [
                r.id
                for r in rows
                if r.id not in poison and r.id < first_poison.get((r.topic, r.key), r.id + 1)
            ]
            for row_id, reason in poison.items():
                await session.execute(
                    update(t)
                    .where(t.c.id == row_id)
                    .values(quarantined_at=func.now(), quarantine_reason=reason[:2000])
                )
            await session.execute(update(t).where(t.c.id.in_(sent)).values(sent_at=func.now()))
        PUBLISHED.labels(self.service).inc(len(sent))
        RELAY_BATCHES.labels(self.service).inc()
        for row_id, reason in poison.items():  # after the commit: nothing undoes the marks
            log.error("outbox row quarantined", service=self.service, id=row_id, reason=reason)
        return len(rows)

    async def _send(self, rows: Iterable[object]) -> dict[int, str]:
        """Send ``rows`` in order; returns the poison rows (id: reason), not sent. A row of the
        same topic and key after a poison row is not sent either (it waits behind it)."""
        poison: dict[int, str] = {}
        held: set[tuple[str, str | None]] = set()
        if self._producer is None:
            producer = self.producer_factory()
            await producer.start()
            self._producer = producer
        else:
            await refresh_metadata(self._producer)
        futures: list[asyncio.Future[Any]] = []
        size = 0
        for row in rows:
            where = (row.topic, row.key)  # type: ignore[attr-defined]
            if where in held:
                continue
            if not TOPIC_NAME.fullmatch(row.topic):  # type: ignore[attr-defined]
                poison[row.id] = f"invalid topic name {row.topic!r}"  # type: ignore[attr-defined]
                held.add(where)
                continue
            value = json.dumps(row.payload, separators=(",", ":")).encode()  # type: ignore[attr-defined]
            key = row.key.encode() if row.key is not None else None  # type: ignore[attr-defined]
            headers = kafka_headers(publish_headers(self.service, *where, row.headers))  # type: ignore[attr-defined]
            cost = len(value) + len(key or b"") + RECORD_OVERHEAD_BYTES
            cost += sum(len(k) + len(v) for k, v in headers)
            if futures and size + cost > IN_FLIGHT_BYTES:
                await asyncio.gather(*futures)  # acknowledged before anything later is queued
                futures, size = [], 0
            try:
                futures.append(
                    await self._producer.send(
                        row.topic,  # type: ignore[attr-defined]
                        value=value,
                        key=key,
                        headers=headers,
                    )
                )
            except MessageSizeTooLargeError as exc:  # raised before anything is queued
                poison[row.id] = f"{type(exc).__name__}: {exc}"  # type: ignore[attr-defined]
                held.add(where)
                continue
            size += cost
        await asyncio.gather(*futures)
        return poison

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                # Unacknowledged records stay pending in the outbox: never wait long here.
                await asyncio.wait_for(producer.stop(), 5.0)

    async def pending_count(self) -> int:
        async with self.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
            )
        PENDING.labels(self.service).set(count or 0)
        return count or 0

    async def quarantined_count(self) -> int:
        t = self.table
        async with self.sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(t)
                .where(t.c.quarantined_at.is_not(None), t.c.sent_at.is_(None))
            )
        QUARANTINED.labels(self.service).set(count or 0)
        return count or 0

    async def oldest_pending_age_s(self) -> float | None:
        async with self.sessionmaker() as session:
            age = await session.scalar(
                select(func.extract("epoch", func.now() - func.min(self.table.c.created_at))).where(
                    self.table.c.sent_at.is_(None)
                )
            )
        return None if age is None else float(age)

    async def purge_sent(self) -> int:
        """Delete sent rows older than the retention (kept until then for republishing)."""
        if self.retention_days <= 0:
            return 0
        t = self.table
        async with self.sessionmaker.begin() as session:
            result = await session.execute(
                delete(t).where(
                    t.c.sent_at.is_not(None),
                    t.c.sent_at < datetime.now(UTC) - timedelta(days=self.retention_days),
                )
            )
        # a DELETE answers a CursorResult; AsyncSession.execute is typed as plain Result
        purged = cast(CursorResult[Any], result).rowcount or 0
        if purged:
            log.info("outbox rows purged", service=self.service, rows=purged)
        return purged

    async def _purge_when_due(self) -> None:
        if time.monotonic() - self._purged_at < PURGE_INTERVAL_S:
            return
        self._purged_at = time.monotonic()
        try:
            await self.purge_sent()
        except Exception as exc:  # purging is housekeeping: never stop publishing for it
            log.warning("outbox purge failed", error=repr(exc))

    async def run(self) -> None:
        listener = asyncio.create_task(
            listen_for_commits(self.database_url, self._wake, self.poll_interval_s)
            if self.listen
            else asyncio.sleep(0)
        )
        backoff = 0.5
        try:
            while True:
                try:
                    while await self.relay_batch() == self.batch_size:
                        pass
                    backoff = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker or database away: keep the rows, retry
                    RELAY_ERRORS.labels(self.service).inc()
                    log.warning(
                        "outbox relay failed; will retry", error=repr(exc), retry_in_s=backoff
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                await self._purge_when_due()
                # A standby relay cannot hear what the publishing one is woken for (and that one
                # may be a crashed process whose lock is about to go): ask again soon.
                wait = min(self.poll_interval_s, 1.0) if self.standing_by else self.poll_interval_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                self._wake.clear()
        finally:
            await self._drop_producer()
            listener.cancel()
            # psycopg can take long to close a connection cancelled inside notifies()
            await asyncio.wait([listener], timeout=2.0)


async def listen_for_commits(libpq: str, wake: asyncio.Event, retry_s: float) -> None:
    """Set ``wake`` at each commit that staged an outbox event (``NOTIFY_CHANNEL``), and once
    at each (re)connection for what was committed while nobody listened; whoever waits on
    ``wake`` polls as well, for what a listener misses."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                wake.set()
                async with contextlib.aclosing(conn.notifies()) as notifies:
                    async for _ in notifies:
                        wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("outbox listener reconnecting", error=repr(exc))
            await asyncio.sleep(retry_s)
