"""Messaging metrics every service exposes on /metrics, and counting what a transaction did
only once it committed.

Counted where it happens (by hooks in the relay and the consumer runtime): relay batches,
records and errors; consumer retries, dead letters and inbox duplicates
(``vareon_events_consumed_total{outcome}``); processing time per event type
(``vareon_event_processing_seconds``, in ``telemetry.consume_span``).
Sampled every ``metrics_interval_s`` by a background task: the outbox backlog and its oldest
row's age, and each consumer group's lag per partition (committed offset to end of log, what
the group has not done yet whichever replica holds the partition).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

RELAY_BATCHES = Counter(
    "vareon_outbox_relay_batches_total", "Outbox batches the relay published", ["service"]
)
RELAY_ERRORS = Counter(
    "vareon_outbox_relay_errors_total",
    "Relay attempts that failed (broker or database away); the rows stay pending",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "vareon_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet published (0 when none is pending)",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "vareon_consumer_lag",
    "Records after the consumer group's committed offset",
    ["consumer", "topic", "partition"],
)
CONSUMER_RETRIES = Counter(
    "vareon_consumer_retries_total",
    "Handler failures retried (not outages: vareon_consumer_outage_retries_total)",
    ["consumer", "event_type"],
)
DEAD_LETTERS = Counter(
    "vareon_dead_letters_total",
    "Records sent to a dead-letter topic",
    ["consumer", "topic", "reason"],
)

_AFTER_COMMIT = "vareon_after_commit"


def after_commit(session: AsyncSession, count: Callable[[], None]) -> None:
    """Run ``count`` if (and when) the session's transaction commits; never on rollback."""
    session.sync_session.info.setdefault(_AFTER_COMMIT, []).append(count)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for count in session.info.pop(_AFTER_COMMIT, ()):
        count()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


async def sample_messaging(app: Any) -> None:
    """The outbox and lag gauges, every ``metrics_interval_s`` (a ``background`` task)."""
    settings = app.state.settings
    interval = settings.metrics_interval_s
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await _sample(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # best effort, as readiness' messaging status
            log.info("messaging metrics not sampled", error=repr(exc)[:200])


async def _sample(app: Any) -> None:
    settings = app.state.settings
    relay = getattr(app.state, "relay", None)
    if relay is not None:
        await relay.pending_count()  # sets vareon_outbox_pending
        await relay.quarantined_count()
        age = await relay.oldest_pending_age_s()
        OUTBOX_OLDEST_AGE.labels(settings.service_name).set(age or 0.0)
    # Imported here: the messaging modules count into this module's metrics.
    from vareon_chassis.messaging import offsets

    for consumer in app.state.messaging.consumers:
        group = settings.consumer_group_prefix + consumer.name
        async with offsets.reader(settings.kafka_bootstrap, group) as kafka:
            tps = await offsets.partitions(kafka, consumer.topics)
            if not tps:
                continue
            kafka.assign(tps)
            starts = await kafka.beginning_offsets(tps)
            ends = await kafka.end_offsets(tps)
            done = await offsets.committed(kafka, tps)
            for tp in tps:
                lag = ends[tp] - max(done[tp] or 0, starts[tp])
                CONSUMER_LAG.labels(consumer.name, tp.topic, str(tp.partition)).set(lag)
