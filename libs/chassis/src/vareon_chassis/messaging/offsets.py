"""Partitions, offsets and consumer groups: what replay, dead letters and lag are built on.

Written for the embedded broker's quirks too: it cannot list a group's offsets through the
admin API (``consumer.committed()`` per partition instead), and ``offsets_for_times`` with a
time after the last record answers offset 0 instead of nothing (guarded here).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from vareon_chassis import kafka_security


class GroupActive(RuntimeError):
    """The consumer group has live members: stop them before moving its offsets."""


@dataclass(frozen=True)
class Span:
    """Records ``start`` (inclusive) to ``end`` (exclusive) of one partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def count(self) -> int:
        return max(self.end - self.start, 0)

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


@contextlib.asynccontextmanager
async def reader(bootstrap: str, group_id: str | None = None) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer that joins no group (manual assignment); ``group_id`` only to read/commit."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
        **kafka_security.options(),
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


def dead_letter_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        **kafka_security.options(),
    )


async def partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` that exists (a topic never written to has none)."""
    found: list[TopicPartition] = []
    for topic in sorted(set(topics)):
        ids = await consumer._client._wait_on_metadata(topic) if topic else None
        found += [TopicPartition(topic, p) for p in sorted(ids or ())]
    return found


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


async def offsets_at(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], when: datetime
) -> dict[TopicPartition, int]:
    """The first offset at or after ``when`` per partition; the end if there is none.

    Kafka answers None for a time after the last record; the embedded broker answers offset 0
    with timestamp -1, which would rewind to the start. An answer whose timestamp is before
    ``when`` is therefore treated as "nothing at or after".
    """
    if not tps:
        return {}
    ts = to_ms(when)
    ends = await consumer.end_offsets(tps)
    answers = await consumer.offsets_for_times({tp: ts for tp in tps})
    offsets: dict[TopicPartition, int] = {}
    for tp in tps:
        answer = answers.get(tp)
        offsets[tp] = ends[tp] if answer is None or answer.timestamp < ts else answer.offset
    return offsets


async def spans(
    consumer: AIOKafkaConsumer, topics: Iterable[str], since: datetime | None = None
) -> list[Span]:
    """What is on ``topics`` from the start (or from ``since``) to the current end."""
    tps = await partitions(consumer, topics)
    if not tps:
        return []
    ends = await consumer.end_offsets(tps)
    starts = (
        await consumer.beginning_offsets(tps)
        if since is None
        else await offsets_at(consumer, tps, since)
    )
    return [Span(tp.topic, tp.partition, starts[tp], ends[tp]) for tp in tps]


async def read_spans(
    consumer: AIOKafkaConsumer,
    todo: list[Span],
    *,
    idle_timeout_s: float = 10.0,
    drain_ms: int = 300,
    seen: dict[TopicPartition, int] | None = None,
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of ``todo`` in offset order per partition, and whatever follows, then stop.

    The end offsets are a floor, not a limit: the embedded broker reports a multi-record
    batch's end as its first offset + 1 until the next write, so after reaching the reported
    ends this reads on until the partitions stay quiet for ``drain_ms``. ``seen`` receives the
    offset after the last record read per partition.
    """
    todo = [s for s in todo if s.count]
    if not todo:
        return
    ends = {s.tp: s.end for s in todo}
    consumer.assign(list(ends))
    for s in todo:
        consumer.seek(s.tp, s.start)
    loop = asyncio.get_running_loop()
    last = loop.time()
    waiting = dict(ends)
    while True:
        batches = await consumer.getmany(timeout_ms=500 if waiting else drain_ms)
        if not batches:
            if not waiting:
                return
            if loop.time() - last > idle_timeout_s:
                raise TimeoutError(f"no records from {sorted(map(str, waiting))}")
        for tp, records in batches.items():
            last = loop.time()
            for record in records:
                if seen is not None:
                    seen[tp] = record.offset + 1
                yield record
        for tp in list(waiting):
            if await consumer.position(tp) >= waiting[tp]:
                del waiting[tp]


async def active_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_security.options())
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    members = 0
    for response in responses:
        for described in response.groups:
            if described[1] == group:  # (error_code, group, state, protocol_type, ..., members)
                members += len(described[-1] or ())
    return members


async def ensure_group_idle(bootstrap: str, group: str, *, wait_s: float = 0.0) -> None:
    """Raise GroupActive while ``group`` has members (waits up to ``wait_s`` for them to go).

    A stopped member stays listed until its session times out (kafka_session_timeout_ms).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while (members := await active_members(bootstrap, group)) > 0:
        if loop.time() >= deadline:
            raise GroupActive(
                f"consumer group {group!r} has {members} active member(s): stop the service's "
                "consumers first (a stopped member is listed until its session times out)"
            )
        await asyncio.sleep(0.5)


async def committed(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> dict[TopicPartition, int | None]:
    return {tp: await consumer.committed(tp) for tp in tps}


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for ``group`` without joining it (its members must be stopped)."""
    if not offsets:
        return
    async with reader(bootstrap, group) as consumer:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)


Progress = Callable[[int, int], None]
"""``progress(done, total)``, called every few hundred records."""
