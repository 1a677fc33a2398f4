"""Proofs every consuming service runs in its own tests (re-exported by the pytest plugin).

- ``assert_rebuild_matches``: the read model rebuilt by replay equals the one built live.
- ``assert_duplicate_and_out_of_order_delivery_is_harmless``: each event twice, partitions
  interleaved at random (each key's order kept, as Kafka does), gives the same state; an
  unknown version is dead-lettered with a readable reason and the partition moves on.
"""

from __future__ import annotations

import hashlib
import random
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord
from sqlalchemy import Table, delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.topics import dead_letter_topic

from vareon_chassis.messaging import offsets, replay
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.testing.consumer_checks import consumer_record

Projection = str | Any
"""A SELECT (SQL text or a SQLAlchemy select) whose rows are the state to compare."""


async def projection_hash(
    sessionmaker: async_sessionmaker[AsyncSession], projection: Projection
) -> tuple[str, int]:
    """sha256 of the projection's rows, and how many rows it had."""
    statement = text(projection) if isinstance(projection, str) else projection
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    digest = hashlib.sha256(repr([tuple(map(str, r)) for r in rows]).encode()).hexdigest()
    return digest, len(rows)


async def assert_rebuild_matches(
    consumers: Sequence[EventConsumer],
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    bootstrap: str,
    projection: Projection,
) -> list[replay.RebuildReport]:
    """Hash the projection, rebuild each consumer in turn by replay, hash again: equal.

    Stop the service's consumers first (the member check is skipped: the embedded broker
    lists a group's departed members forever).
    """
    before, rows = await projection_hash(sessionmaker, projection)
    assert rows, "the projection is empty: there is nothing to prove"
    reports = [
        await replay.rebuild(
            consumer,
            sessionmaker=sessionmaker,
            inbox=inbox,
            bootstrap=bootstrap,
            execute=True,
            check_members=False,
        )
        for consumer in consumers
    ]
    after, _ = await projection_hash(sessionmaker, projection)
    assert after == before, f"rebuilt projection differs from the live one: {reports}"
    return reports


def _record(envelope: Envelope, topic: str, offset: int) -> ConsumerRecord[bytes, bytes]:
    partition = zlib.crc32(encode_kafka(envelope)[0] or b"") % 3
    return consumer_record(envelope, topic, offset, partition)


def redelivered_and_interleaved(items: Sequence[Any], key: Callable[[Any], Any], seed: int) -> list:
    """Every item twice; first deliveries keep each key's order, copies land anywhere later."""
    rng = random.Random(seed)
    queues: dict[Any, list[Any]] = {}
    for item in items:
        queues.setdefault(key(item), []).append(item)
    order: list[Any] = []
    while queues:
        k = rng.choice(sorted(queues, key=str))
        order.append(queues[k].pop(0))
        if not queues[k]:
            del queues[k]
    for item in list(order):
        order.insert(rng.randint(order.index(item) + 1, len(order)), item)
    return order


async def assert_duplicate_and_out_of_order_delivery_is_harmless(
    consumers: Sequence[EventConsumer],
    events: Sequence[Envelope],
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    bootstrap: str,
    projection: Projection,
    reset: Callable[[AsyncSession], Awaitable[None]],
    seed: int = 7,
) -> None:
    """In order once vs. twice and interleaved: identical state. Then a future version of the
    first event's type is dead-lettered (reason ``unknown-type``) and the next record applies."""
    by_type = {t: c for c in consumers for t in c.handlers}
    topic = {t: c.topics[0] for t, c in by_type.items()}
    producer = offsets.dead_letter_producer(bootstrap)
    await producer.start()
    try:
        runtimes = {
            c.name: ConsumerRuntime(c, sessionmaker, inbox, producer, backoff_s=0.01)
            for c in consumers
        }

        async def deliver(sequence: Sequence[Envelope]) -> list[str]:
            async with sessionmaker.begin() as session:
                await reset(session)
                await session.execute(delete(inbox))
            outcomes = []
            for offset, envelope in enumerate(sequence):
                runtime = runtimes[by_type[envelope.type].name]
                record = _record(envelope, topic[envelope.type], offset)
                outcomes.append(await runtime.process(record))
            return outcomes

        once = await deliver(events)
        assert set(once) == {"applied"}, f"in-order delivery did not apply everything: {once}"
        expected, rows = await projection_hash(sessionmaker, projection)
        assert rows, "the projection is empty: there is nothing to prove"
        twice = await deliver(redelivered_and_interleaved(events, lambda e: e.key, seed))
        assert twice.count("duplicate") == len(events), twice
        assert (await projection_hash(sessionmaker, projection))[0] == expected, (
            "delivering every event twice, interleaved, changed the final state"
        )

        first = events[0]
        future_type = re.sub(r"\.v\d+$", ".v999", first.type)
        future = first.model_copy(update={"id": f"future-{first.id}", "type": future_type})
        runtime = runtimes[by_type[first.type].name]
        tp = topic[first.type]
        assert await runtime.process(_record(future, tp, 10**6)) == "dead-lettered"
        assert await runtime.process(_record(events[-1], tp, 10**6 + 1)) == "duplicate", (
            "the partition must move on after a dead letter"
        )
    finally:
        await producer.stop()
    await _assert_dead_lettered(bootstrap, dead_letter_topic(tp), future.id, future_type)


async def _assert_dead_lettered(bootstrap: str, dlq: str, event_id: str, event_type: str) -> None:
    async with offsets.reader(bootstrap) as kafka:
        async for record in offsets.read_spans(kafka, await offsets.spans(kafka, [dlq])):
            headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
            if headers.get("ce_id") == event_id:
                assert headers["dlq_reason"] == "unknown-type", headers
                assert event_type in headers["dlq_error"], headers["dlq_error"]
                return
    raise AssertionError(f"{event_id} is not on {dlq}")
