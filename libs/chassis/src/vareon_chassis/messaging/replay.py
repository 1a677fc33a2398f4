"""Replay: rebuild a consumer's read model, move a group by time, republish from the outbox.

Every operation is a dry run unless ``execute=True``: it reports what it would do, per topic
and partition. Run it where the service runs (it uses the service's own settings, database
and handlers): ``python -m vareon_chassis.messaging.replay --help``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_chassis.messaging import offsets
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.messaging.offsets import GroupActive, Progress, Span
from vareon_chassis.messaging.relay import RELAY_LOCK_ID, kafka_headers

__all__ = ["GroupActive", "RebuildReport", "Refused", "rebuild", "republish", "reset_group"]
REBUILD_BATCH = 500
"""Records applied per transaction by a rebuild (``process_batch``; one fetch's worth)."""


class Refused(RuntimeError):
    """The operation would do harm (e.g. rebuild from an emptied broker)."""


@dataclass
class RebuildReport:
    consumer: str
    spans: list[Span]
    inbox_rows: int
    executed: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def records(self) -> int:
        return sum(s.count for s in self.spans)


def erased_marker(consumer: str) -> str:
    """The inbox's ``consumer`` value for rows a full rebuild erased and has not re-applied."""
    return f"{consumer} (erased by rebuild)"


async def rebuild(
    consumer: EventConsumer,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    bootstrap: str,
    since: datetime | None = None,
    execute: bool = False,
    force: bool = False,
    wait_idle_s: float = 0.0,
    check_members: bool = True,
    progress: Progress | None = None,
    group: str | None = None,
) -> RebuildReport:
    """Re-apply ``consumer``'s topics through its handlers.

    Without ``since``: erase the consumer's inbox rows, call its ``reset`` hook (clears the
    read model) in the same transaction, then apply every record on its topics from the
    start. With ``since``: no reset; records from that time on go through the inbox, so only
    those never applied take effect (catching up after lost offsets or a redriven outage).
    Outgoing events are suppressed only for an event whose earlier application this rebuild
    erased (it was announced then); anything applied for the first time (a catch-up, a first
    build, records arriving meanwhile) is announced. The erased rows are kept under
    ``erased_marker`` until their event is re-applied, so an interrupted rebuild can run again.
    Refused when the topics no longer hold what the inbox says was applied (an emptied broker,
    retention past applied events), unless ``force``.
    The consumer group must be idle: a live member would apply new events meanwhile.
    ``check_members=False`` skips that check, for the embedded broker, which lists a group's
    last member forever after it left (the operator vouches the service is stopped).
    ``group`` is the consumer's group id when it is not its name (``consumer_group_prefix``).
    """
    if check_members:
        await offsets.ensure_group_idle(bootstrap, group or consumer.name, wait_s=wait_idle_s)
    erased = erased_marker(consumer.name)
    async with sessionmaker() as session:
        inbox_rows = await session.scalar(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.consumer.in_([consumer.name, erased]))
        )
    async with offsets.reader(bootstrap) as kafka:
        todo = await offsets.spans(kafka, consumer.topics, since)
        report = RebuildReport(consumer.name, todo, inbox_rows or 0)
        if not execute:
            return report
        if since is None and not force:
            await _refuse_lost_history(consumer.name, report, kafka, sessionmaker, inbox)
        if since is None:
            async with sessionmaker.begin() as session:
                await session.execute(
                    update(inbox).where(inbox.c.consumer == consumer.name).values(consumer=erased)
                )
                if consumer.reset is not None:
                    await consumer.reset(session)
        producer = offsets.dead_letter_producer(bootstrap)
        await producer.start()
        try:
            runtime = ConsumerRuntime(
                consumer, sessionmaker, inbox, producer, erased=erased if since is None else None
            )
            done, batch = 0, []
            async for record in offsets.read_spans(kafka, todo):
                batch.append(record)
                if len(batch) < REBUILD_BATCH and done + len(batch) < report.records:
                    continue
                report.outcomes.update(await runtime.process_batch(batch))
                done, batch = done + len(batch), []
                if progress:
                    progress(done, report.records)
            if batch:  # records that arrived past the spans counted at the start
                report.outcomes.update(await runtime.process_batch(batch))
        finally:
            await producer.stop()
    if since is None:  # erased events no longer on the topics (only with force)
        async with sessionmaker.begin() as session:
            await session.execute(delete(inbox).where(inbox.c.consumer == erased))
    report.executed = True
    return report


async def _refuse_lost_history(
    consumer: str,
    report: RebuildReport,
    kafka: AIOKafkaConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
) -> None:
    """Refuse a full rebuild that could not restore every event the inbox says was applied.

    Suspicion is cheap (a partition starting past 0: retention deleted early records; fewer
    records than applied events); then the topics' event ids are read and compared with the
    inbox, because the embedded broker under-reports end offsets after batched writes."""
    if not report.inbox_rows:
        return
    if report.records == 0:
        raise Refused(
            f"{consumer} has applied {report.inbox_rows} events but its topics are "
            "empty (a restarted in-memory broker?): a rebuild would only erase the read "
            "model. Republish from the producers' outboxes first, or pass force."
        )
    trimmed = [s for s in report.spans if s.start > 0]
    if not trimmed and report.inbox_rows <= report.records:
        return
    on_topics: set[str] = set()
    async for record in offsets.read_spans(kafka, report.spans):
        on_topics.update(
            v.decode(errors="replace") for k, v in record.headers or () if k == "ce_id"
        )
    missing = 0
    async with sessionmaker() as session:
        applied = await session.stream_scalars(
            select(inbox.c.event_id).where(
                inbox.c.consumer.in_([consumer, erased_marker(consumer)])
            )
        )
        async for event_id in applied:
            missing += event_id not in on_topics
    if missing:
        where = "".join(f"; {tp_label(s)} starts at offset {s.start}" for s in trimmed)
        raise Refused(
            f"{missing} of the {report.inbox_rows} events {consumer} applied are no longer on "
            f"its topics (retention deleted early records{where}): a full rebuild would erase "
            "effects it cannot restore (and re-run first-time effects such as signup grants). "
            "Rebuild --since, republish from the producers' outboxes first, or pass force."
        )


@dataclass(frozen=True)
class Move:
    topic: str
    partition: int
    current: int | None
    target: int


async def reset_group(
    bootstrap: str,
    group: str,
    topics: tuple[str, ...],
    *,
    to: datetime | str,
    execute: bool = False,
    wait_idle_s: float = 0.0,
    check_members: bool = True,
) -> list[Move]:
    """Move ``group``'s committed offsets to a time, or "earliest"/"latest".

    Refused while the group has members. A time after the last record moves to the end,
    never back to the start (see ``offsets.offsets_at``).
    """
    if check_members:
        await offsets.ensure_group_idle(bootstrap, group, wait_s=wait_idle_s)
    async with offsets.reader(bootstrap, group) as kafka:
        tps = await offsets.partitions(kafka, topics)
        if to == "earliest":
            targets = await kafka.beginning_offsets(tps)
        elif to == "latest":
            targets = await kafka.end_offsets(tps)
        elif isinstance(to, datetime):
            targets = await offsets.offsets_at(kafka, tps, to)
        else:
            raise ValueError(f"to must be a datetime, 'earliest' or 'latest', not {to!r}")
        kafka.assign(tps)
        current = await offsets.committed(kafka, tps)
        moves = [Move(tp.topic, tp.partition, current[tp], targets[tp]) for tp in tps]
        if execute and tps:
            await kafka.commit({tp: targets[tp] for tp in tps})
    return moves


@dataclass
class RepublishReport:
    per_topic: Counter[str] = field(default_factory=Counter)
    per_partition: Counter[tuple[str, int]] = field(default_factory=Counter)
    executed: bool = False

    @property
    def records(self) -> int:
        return sum(self.per_topic.values())


async def republish(
    outbox: Table,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer_factory: Callable[[], object],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    event_type: str | None = None,
    key: str | None = None,
    execute: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> RepublishReport:
    """Send sent outbox rows again (same event ids: consumers that have them skip them).

    Rows go out in id order while holding the relay's lock, so the live relay stands by and
    each key's events keep their order. Filters: ``created_at`` in [since, until), type, key.
    """
    t = outbox
    where: list[ColumnElement[bool]] = [t.c.sent_at.is_not(None), t.c.quarantined_at.is_(None)]
    if since is not None:
        where.append(t.c.created_at >= since)
    if until is not None:
        where.append(t.c.created_at < until)
    if event_type is not None:
        where.append(t.c.event_type == event_type)
    if key is not None:
        where.append(t.c.key == key)
    report = RepublishReport()
    async with sessionmaker() as session:
        for topic, count in await session.execute(
            select(t.c.topic, func.count()).where(*where).group_by(t.c.topic)
        ):
            report.per_topic[topic] = count
    if not execute or not report.records:
        return report
    producer = producer_factory()
    await producer.start()  # type: ignore[attr-defined]
    try:
        async with sessionmaker.begin() as session:
            await session.execute(select(func.pg_advisory_xact_lock(RELAY_LOCK_ID)))
            last_id, done = 0, 0
            while True:
                rows = (
                    await session.execute(
                        select(t.c.id, t.c.topic, t.c.key, t.c.headers, t.c.payload)
                        .where(*where, t.c.id > last_id)
                        .order_by(t.c.id)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    break
                futures = [
                    await producer.send(  # type: ignore[attr-defined]
                        row.topic,
                        value=json.dumps(row.payload, separators=(",", ":")).encode(),
                        key=row.key.encode() if row.key is not None else None,
                        headers=kafka_headers(row.headers),
                    )
                    for row in rows
                ]
                for meta in [await f for f in futures]:
                    report.per_partition[(meta.topic, meta.partition)] += 1
                last_id, done = rows[-1].id, done + len(rows)
                if progress:
                    progress(done, report.records)
    finally:
        await producer.stop()  # type: ignore[attr-defined]
    report.executed = True
    return report


async def quarantined(outbox: Table, sessionmaker: async_sessionmaker[AsyncSession]) -> list[Any]:
    """Outbox rows the relay quarantined and nobody released yet (id, event, topic, reason)."""
    t = outbox
    async with sessionmaker() as session:
        result = await session.execute(
            select(
                t.c.id,
                t.c.event_id,
                t.c.event_type,
                t.c.topic,
                t.c.key,
                t.c.quarantined_at,
                t.c.quarantine_reason,
            )
            .where(t.c.quarantined_at.is_not(None), t.c.sent_at.is_(None))
            .order_by(t.c.id)
        )
        return list(result.all())


async def release(
    outbox: Table,
    sessionmaker: async_sessionmaker[AsyncSession],
    ids: list[int],
    *,
    drop: bool = False,
    execute: bool = False,
) -> int:
    """Retry quarantined rows (the relay tries them again, e.g. after the topic or the size
    limit was fixed), or drop them (never published; marked sent, reason kept): either way
    the rows of the same key behind them flow again. Returns how many rows it concerns."""
    t = outbox
    match = [t.c.id.in_(ids), t.c.quarantined_at.is_not(None), t.c.sent_at.is_(None)]
    async with sessionmaker.begin() as session:
        count = await session.scalar(select(func.count()).select_from(t).where(*match)) or 0
        if execute and count:
            values = (
                {"sent_at": func.now()}
                if drop
                else {"quarantined_at": None, "quarantine_reason": None}
            )
            await session.execute(update(t).where(*match).values(**values))
    return int(count)


Reset = Callable[[AsyncSession], Awaitable[None]]


def tp_label(tp: TopicPartition | Span | Move) -> str:
    return f"{tp.topic}[{tp.partition}]"


if __name__ == "__main__":
    import sys

    from vareon_chassis.messaging.commands import run_replay

    sys.exit(run_replay())
