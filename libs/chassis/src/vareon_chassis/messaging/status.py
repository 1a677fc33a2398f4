"""Per-consumer lag and pending dead letters, and the outbox backlog, for /health/ready.

The gateway's system status reads these from each service's readiness body. They are
observations, not checks: a lagging consumer does not make a service unready.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from vareon_chassis.messaging import deadletters, offsets
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.messaging.relay import OutboxRelay


async def consumer_lag(bootstrap: str, consumer: EventConsumer, group_prefix: str = "") -> int:
    """Records on the consumer's topics after its group's committed offsets (all, if none)."""
    async with offsets.reader(bootstrap, group_prefix + consumer.name) as kafka:
        tps = await offsets.partitions(kafka, consumer.topics)
        if not tps:
            return 0
        kafka.assign(tps)
        starts = await kafka.beginning_offsets(tps)
        ends = await kafka.end_offsets(tps)
        done = await offsets.committed(kafka, tps)
        return sum(ends[tp] - max(done[tp] or 0, starts[tp]) for tp in tps)


async def consumers_status(
    bootstrap: str, consumers: Sequence[EventConsumer], group_prefix: str = ""
) -> dict[str, dict[str, int]]:
    status = {}
    for consumer in consumers:
        pending = await deadletters.scan(bootstrap, consumer=consumer.name, topics=consumer.topics)
        status[consumer.name] = {
            "lag": await consumer_lag(bootstrap, consumer, group_prefix),
            "dead_letters": len(pending.messages),
        }
    return status


async def outbox_status(relay: OutboxRelay) -> dict[str, Any]:
    age = await relay.oldest_pending_age_s()
    return {
        "pending": await relay.pending_count(),
        "quarantined": await relay.quarantined_count(),
        "oldest_pending_age_s": None if age is None else round(age, 3),
    }


class StatusCache:
    """The last messaging status, refreshed in the background at most every ``ttl_s``.

    ``peek`` never waits on the broker: a readiness probe answers at once with what was
    last measured (``{}`` until the first measurement finished).
    """

    def __init__(self, ttl_s: float = 5.0, timeout_s: float = 5.0, group_prefix: str = "") -> None:
        self.group_prefix = group_prefix
        """``consumer_group_prefix``: the consumers' groups are prefix + name."""
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._at = -ttl_s
        self._value: dict[str, Any] = {}
        self._task: asyncio.Task[dict[str, Any]] | None = None

    def peek(
        self, bootstrap: str, consumers: Sequence[EventConsumer], relay: OutboxRelay | None
    ) -> dict[str, Any]:
        stale = time.monotonic() - self._at >= self.ttl_s
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self.refresh(bootstrap, consumers, relay))
        return self._value

    async def refresh(
        self, bootstrap: str, consumers: Sequence[EventConsumer], relay: OutboxRelay | None
    ) -> dict[str, Any]:
        value: dict[str, Any] = {"measured_at": round(time.time(), 3)}
        try:
            async with asyncio.timeout(self.timeout_s):
                if consumers:
                    value["consumers"] = await consumers_status(
                        bootstrap, consumers, self.group_prefix
                    )
                if relay is not None:
                    value["outbox"] = await outbox_status(relay)
        except Exception as exc:  # status is best effort; readiness is decided elsewhere
            value["error"] = f"{type(exc).__name__}: {exc}"[:200]
        self._at, self._value = time.monotonic(), value
        return value

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
