"""What a test reads off the broker: records of a topic from its beginning (no consumer
group) and whether a group has committed past them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from vareon_contracts import Envelope, decode_kafka
from vareon_contracts.envelope import MalformedEvent

from vareon_chassis.messaging import offsets


class EventLog:
    """Reads a topic from the beginning (no consumer group) to find what a test expects."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def records(
        self,
        topic: str,
        predicate: Callable[[Any], bool] = lambda r: True,
        *,
        count: int = 1,
        timeout_s: float = 60.0,
    ) -> list[Any]:
        """Raw ConsumerRecords matching ``predicate``; waits until ``count`` are there.

        Reads from the start: by the end of a full run the shared topics hold thousands of
        records, so the bound is generous (a bound on a wait for the event, not a window)."""
        found: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while len(found) < count:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"{len(found)}/{count} matching records on {topic}")
                batches = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
                found += [r for rs in batches.values() for r in rs if predicate(r)]
            return found
        finally:
            await consumer.stop()

    async def consumed(
        self,
        group: str,
        topic: str,
        predicate: Callable[[Envelope], bool] = lambda e: True,
        *,
        count: int = 1,
        timeout_s: float = 60.0,
    ) -> list[Envelope]:
        """Events on ``topic`` matching ``predicate`` once consumer group ``group`` committed
        past every one of them: the consumer's effect (or its decision to skip) committed.

        The causal wait for "X did not happen": the duplicate (or a later marker on the same
        partition) has been processed, so what it would have done is there or never will be.
        The bound only stops a broken consumer from hanging the test."""
        records = await self.records(topic, _decodable(predicate), count=count, timeout_s=timeout_s)
        await self.committed_past(group, records, timeout_s=timeout_s)
        return [decode_kafka(r.value, list(r.headers or [])) for r in records]

    async def committed_past(
        self, group: str, records: list[Any], *, timeout_s: float = 60.0
    ) -> None:
        """Wait until ``group`` has committed an offset after each of ``records``."""
        todo: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            todo[tp] = max(todo.get(tp, -1), r.offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with offsets.reader(self.bootstrap, group) as kafka:
            while todo:
                for tp, offset in list(todo.items()):
                    done = await kafka.committed(tp)
                    if done is not None and done > offset:
                        del todo[tp]
                if not todo:
                    return
                if loop.time() > deadline:
                    raise TimeoutError(f"{group} has not committed past {todo}")
                await asyncio.sleep(0.05)

    async def wait_for(
        self,
        topic: str,
        predicate: Callable[[Envelope], bool] = lambda e: True,
        *,
        count: int = 1,
        timeout_s: float = 60.0,
    ) -> list[Envelope]:
        """CloudEvents on ``topic`` matching ``predicate``; waits until ``count`` are there."""

        records = await self.records(topic, _decodable(predicate), count=count, timeout_s=timeout_s)
        return [decode_kafka(r.value, list(r.headers or [])) for r in records]

    async def all(
        self,
        topic: str,
        predicate: Callable[[Envelope], bool] = lambda e: True,
        *,
        settle_s: float = 2.0,
    ) -> list[Envelope]:
        """Every matching event on the topic after ``settle_s`` (to catch duplicates)."""
        await asyncio.sleep(settle_s)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [
                TopicPartition(topic, p)
                for p in await consumer._client._wait_on_metadata(topic) or ()
            ]
            if not tps:
                return []
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            found: list[Envelope] = []
            # The embedded broker's end offsets can be off by one around batches: read until
            # the reported ends are reached or the topic has been quiet for a second, bounded.
            loop = asyncio.get_running_loop()
            deadline, quiet_since = loop.time() + 20.0, loop.time()
            while loop.time() < deadline and loop.time() - quiet_since < 1.0:
                if all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                    break
                batches = await consumer.getmany(timeout_ms=250)
                if any(batches.values()):
                    quiet_since = loop.time()
                for records in batches.values():
                    for record in records:
                        with contextlib.suppress(MalformedEvent):
                            envelope = decode_kafka(record.value, list(record.headers or []))
                            if predicate(envelope):
                                found.append(envelope)
            return found
        finally:
            await consumer.stop()


def _decodable(predicate: Callable[[Envelope], bool]) -> Callable[[Any], bool]:
    def matches(record: Any) -> bool:
        try:  # other tests leave deliberately malformed records on shared topics
            envelope = decode_kafka(record.value, list(record.headers or []))
        except MalformedEvent:
            return False
        return predicate(envelope)

    return matches
