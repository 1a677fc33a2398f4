"""Sessions identity revoked before their access tokens expire, known to every replica.

Identity publishes `SessionsRevokedV1` (the `sid` of each ended login) on
`vareon.identity.session`. `follow_revocations` reads that topic in every process, without a
consumer group (each replica needs every event; nothing is committed), starting one token
lifetime back, and fills `app.state.revoked_sessions`, which the chassis' `CurrentUser`
consults: a revoked login stops working in seconds, not at the token's expiry.

Entries are dropped once no token of that login can still be valid (``keep_s`` after the
revocation), so memory stays bounded by the revocations of one token lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from pydantic import ValidationError
from vareon_contracts import topics
from vareon_contracts.envelope import MalformedEvent, decode_kafka
from vareon_contracts.events.identity import SessionsRevokedV1

from vareon_chassis.messaging.broker import ensure_topics
from vareon_chassis.settings import ServiceSettings

log = structlog.get_logger(__name__)


class RevokedSessions:
    def __init__(self, keep_s: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_s = keep_s
        self.clock = clock
        self._until: dict[UUID, float] = {}

    def add(self, session_ids: Iterable[UUID], revoked_at: datetime) -> None:
        until = revoked_at.timestamp() + self.keep_s
        now = self.clock()
        if until <= now:
            return
        for sid in session_ids:
            self._until[sid] = max(until, self._until.get(sid, 0.0))
        if len(self._until) % 256 == 0:
            self._purge(now)

    def __contains__(self, sid: object) -> bool:
        until = self._until.get(sid) if isinstance(sid, UUID) else None
        return until is not None and until > self.clock()

    def __len__(self) -> int:
        return len(self._until)

    def _purge(self, now: float) -> None:
        for sid in [s for s, until in self._until.items() if until <= now]:
            del self._until[sid]

    def apply(self, value: bytes | None, headers: list[tuple[str, bytes]]) -> bool:
        """Take one record of the session topic; False for anything that is not a revocation."""
        try:
            envelope = decode_kafka(value, headers)
            if envelope.type != SessionsRevokedV1.event_type:
                return False
            event = SessionsRevokedV1.model_validate(envelope.data)
        except (MalformedEvent, ValidationError) as exc:
            log.warning("unreadable session revocation skipped", error=str(exc))
            return False
        self.add(event.session_ids, event.revoked_at)
        return True


def revocation_window_s(settings: ServiceSettings) -> float:
    return settings.access_token_max_lifetime_s + settings.token_leeway_s


def consumer_options(settings: ServiceSettings) -> dict[str, Any]:
    from vareon_chassis.kafka_security import client_options

    paced: dict[str, Any] = {}
    if settings.kafka_wake_dir:  # paused while quiet: a fetch that is sent finds records
        from vareon_chassis.messaging.wake import PACED_FETCH_MAX_WAIT_MS

        paced["fetch_max_wait_ms"] = PACED_FETCH_MAX_WAIT_MS
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": None,
        "enable_auto_commit": False,
        "client_id": f"{settings.service_name}-revocations",
        **paced,
        **client_options(settings),
    }


async def follow_revocations(app: FastAPI) -> None:
    """A `background(...)` resource: keep `app.state.revoked_sessions` current."""
    settings: ServiceSettings = app.state.settings
    cache = RevokedSessions(keep_s=revocation_window_s(settings))
    app.state.revoked_sessions = cache
    delay = 0.5
    while True:
        consumer = AIOKafkaConsumer(**consumer_options(settings))
        try:
            with contextlib.suppress(Exception):  # may be created already, or not ours to create
                await ensure_topics(
                    settings.kafka_bootstrap, [topics.IDENTITY_SESSION], settings.kafka_partitions
                )
            await consumer.start()
            await _follow_paced(consumer, cache, settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("session revocations not followed; retrying", error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:  # bounded, and abandoned rather than cancelled: aiokafka's stop may not yield
            await asyncio.wait([asyncio.ensure_future(consumer.stop())], timeout=5.0)


async def _follow_paced(
    consumer: AIOKafkaConsumer, cache: RevokedSessions, settings: ServiceSettings
) -> None:
    """On the embedded broker the follower fetches when identity's relay announces the topic
    (``messaging.wake``), as consumers do, instead of a fetch every quarter second."""
    window_s = revocation_window_s(settings)
    if not settings.kafka_wake_dir:
        await _follow(consumer, cache, window_s)
        return
    from vareon_chassis.messaging.wake import FetchPacer, WakeListener

    pacer = FetchPacer([topics.IDENTITY_SESSION], lambda: consumer, settings.kafka_idle_fetch_s)
    listener = WakeListener(settings.kafka_wake_dir)
    listener.register(pacer)
    listener.start()
    pacing = asyncio.create_task(pacer.run())
    try:
        await _follow(consumer, cache, window_s, on_record=pacer.end)
    finally:
        pacing.cancel()
        listener.close()
        with contextlib.suppress(asyncio.CancelledError):
            await pacing


async def _follow(
    consumer: AIOKafkaConsumer,
    cache: RevokedSessions,
    window_s: float,
    on_record: Callable[[], None] | None = None,
) -> None:
    partitions = consumer.partitions_for_topic(topics.IDENTITY_SESSION)
    while not partitions:  # identity has not published a revocation yet
        await asyncio.sleep(1.0)
        await consumer.topics()  # refreshes the metadata
        partitions = consumer.partitions_for_topic(topics.IDENTITY_SESSION)
    assigned = [TopicPartition(topics.IDENTITY_SESSION, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    since_ms = int((time.time() - window_s) * 1000)
    found = await consumer.offsets_for_times({tp: since_ms for tp in assigned})
    ends = await consumer.end_offsets(assigned)
    for tp in assigned:
        at = found.get(tp)  # at worst the start: entries older than the window expire on arrival
        consumer.seek(tp, at.offset if at is not None else ends[tp])
    async for record in consumer:
        cache.apply(record.value, list(record.headers or []))
        if on_record is not None:
            on_record()
