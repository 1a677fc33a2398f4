"""Dead letters: list, show, redrive and purge what a consumer sent to ``<topic>.dlq``.

Kafka cannot delete single records, so "handled" is a watermark: the committed offsets of the
group ``<consumer>.dlq`` on the dead-letter topics. A dead letter is pending for a consumer
while it names that consumer (``dlq_consumer``) and sits at or after the watermark. Redrive
runs each pending message through the consumer's own ConsumerRuntime against its database
(idempotent through the inbox; no other consumer sees it), then moves the watermark; a
message that fails again is dead-lettered again, after the watermark, so it stays pending.
Purge moves the watermark without applying anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts.topics import DLQ_SUFFIX, dead_letter_topic

from vareon_chassis.messaging import offsets
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.messaging.offsets import Progress


def watermark_group(consumer: str) -> str:
    return f"{consumer}{DLQ_SUFFIX}"


@dataclass(frozen=True)
class DeadLetterMessage:
    record: ConsumerRecord[bytes, bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {k: v.decode(errors="replace") for k, v in self.record.headers or ()}

    @property
    def consumer(self) -> str:
        return self.headers.get("dlq_consumer", "?")

    @property
    def reason(self) -> str:
        return self.headers.get("dlq_reason", "?")

    @property
    def source(self) -> tuple[str, int, int]:
        h = self.headers
        return (
            h.get("dlq_topic", "?"),
            int(h.get("dlq_partition", -1)),
            int(h.get("dlq_offset", -1)),
        )

    def original(self) -> ConsumerRecord[bytes, bytes]:
        """The record as the consumer first saw it: source position, no dlq_* headers."""
        topic, partition, offset = self.source
        r = self.record
        return ConsumerRecord(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=r.timestamp,
            timestamp_type=r.timestamp_type,
            key=r.key,
            value=r.value,
            checksum=None,
            serialized_key_size=r.serialized_key_size,
            serialized_value_size=r.serialized_value_size,
            headers=[(k, v) for k, v in r.headers or () if not k.startswith("dlq_")],
        )

    def describe(self) -> dict[str, object]:
        h = self.headers
        topic, partition, offset = self.source
        return {
            "dlq": f"{self.record.topic}[{self.record.partition}]@{self.record.offset}",
            "consumer": self.consumer,
            "reason": self.reason,
            "error": h.get("dlq_error", ""),
            "source": f"{topic}[{partition}]@{offset}",
            "event_type": h.get("ce_type"),
            "event_id": h.get("ce_id"),
            "key": self.record.key.decode(errors="replace") if self.record.key else None,
            "value": (self.record.value or b"").decode(errors="replace")[:2000],
        }


@dataclass
class Scan:
    messages: list[DeadLetterMessage] = field(default_factory=list)
    ends: dict[TopicPartition, int] = field(default_factory=dict)

    def summary(self) -> Counter[tuple[str, str, str]]:
        """Pending dead letters per (consumer, source topic, reason)."""
        return Counter((m.consumer, m.source[0], m.reason) for m in self.messages)


async def dead_letter_topics(kafka: AIOKafkaConsumer) -> list[str]:
    return sorted(t for t in await kafka.topics() if t.endswith(DLQ_SUFFIX))


async def scan(
    bootstrap: str, *, consumer: str | None = None, topics: Iterable[str] | None = None
) -> Scan:
    """Pending dead letters of ``consumer`` (or of every consumer) on ``topics``' DLQs."""
    result = Scan()
    async with offsets.reader(bootstrap) as kafka:
        dlqs = (
            sorted({dead_letter_topic(t) for t in topics})
            if topics is not None
            else await dead_letter_topics(kafka)
        )
        todo = await offsets.spans(kafka, dlqs)
        seen: dict[TopicPartition, int] = {}
        marks: dict[tuple[str, TopicPartition], int] = {}
        async for record in offsets.read_spans(kafka, todo, seen=seen):
            message = DeadLetterMessage(record)
            if consumer is not None and message.consumer != consumer:
                continue
            tp = TopicPartition(record.topic, record.partition)
            if (message.consumer, tp) not in marks:
                marks[(message.consumer, tp)] = await _watermark(bootstrap, message.consumer, tp)
            if record.offset >= marks[(message.consumer, tp)]:
                result.messages.append(message)
        result.ends = {s.tp: max(s.end, seen.get(s.tp, 0)) for s in todo}
    return result


async def _watermark(bootstrap: str, consumer: str, tp: TopicPartition) -> int:
    async with offsets.reader(bootstrap, watermark_group(consumer)) as kafka:
        kafka.assign([tp])
        return await kafka.committed(tp) or 0


@dataclass
class RedriveReport:
    pending: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    executed: bool = False


async def redrive(
    consumer: EventConsumer,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    bootstrap: str,
    execute: bool = False,
    progress: Progress | None = None,
) -> RedriveReport:
    """Re-apply ``consumer``'s pending dead letters through its handlers (inbox-idempotent)."""
    found = await scan(bootstrap, consumer=consumer.name, topics=consumer.topics)
    report = RedriveReport(
        Counter(f"{m.record.topic}[{m.record.partition}]" for m in found.messages)
    )
    if not execute:
        return report
    producer = offsets.dead_letter_producer(bootstrap)
    await producer.start()
    try:
        runtime = ConsumerRuntime(consumer, sessionmaker, inbox, producer)
        for done, message in enumerate(found.messages, 1):
            report.outcomes[await runtime.process(message.original())] += 1
            if progress:
                progress(done, len(found.messages))
    finally:
        await producer.stop()
    await offsets.commit(bootstrap, watermark_group(consumer.name), found.ends)
    report.executed = True
    return report


async def purge(bootstrap: str, consumer: str, *, execute: bool = False) -> int:
    """Mark every pending dead letter of ``consumer`` handled; returns how many."""
    found = await scan(bootstrap, consumer=consumer)
    if execute:
        await offsets.commit(bootstrap, watermark_group(consumer), found.ends)
    return len(found.messages)


if __name__ == "__main__":
    import sys

    from vareon_chassis.messaging.commands import run_dlq

    sys.exit(run_dlq())
