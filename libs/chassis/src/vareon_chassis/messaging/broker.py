"""Kafka clients: the outbox/dead-letter producer and FastStream subscribers for consumers."""

import asyncio
import contextlib
import functools
import itertools
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from structlog.typing import FilteringBoundLogger

from vareon_chassis.kafka_security import client_options, faststream_security, options
from vareon_chassis.messaging.consumer import ConsumerRuntime
from vareon_chassis.messaging.wake import PACED_FETCH_MAX_WAIT_MS, FetchPacer, WakeListener
from vareon_chassis.settings import ServiceSettings


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    # Idempotence needs InitProducerId, which the embedded broker lacks; the outbox and the
    # inbox give exactly-once effects instead.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=False,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=2,
        client_id=f"{settings.service_name}-producer",
        **client_options(settings),
    )


def group_id(settings: ServiceSettings, consumer: str) -> str:
    """The consumer group of consumer ``consumer`` (replay, lag and idle checks use it too)."""
    return settings.consumer_group_prefix + consumer


async def raw_bytes(msg: StreamMessage[Any]) -> bytes:
    """FastStream's decoder would parse JSON before the handler runs, so an invalid body
    would never reach ConsumerRuntime (no dead letter, offset committed by the next record):
    the chassis decodes every record itself."""
    return msg.body


class _Paused:
    """Keeps a consumer in its group while its handler waits out an outage: the partitions
    are paused and polled (empty), which resets aiokafka's max-poll-interval clock."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.paused: set[Any] = set()

    async def keepalive(self) -> None:
        held = set(self.consumer.assignment())
        self.consumer.pause(*(held - self.paused))
        self.paused |= held
        await self.consumer.getmany(timeout_ms=0)

    def resume(self) -> None:
        held = set(self.consumer.assignment())
        if self.paused & held:
            self.consumer.resume(*(self.paused & held))
        self.paused.clear()


LIVE_BATCH = 500
"""At most this many records per transaction on a live consumer: the record FastStream
handed over and what the client has already fetched behind it (nothing is waited for)."""


def _rewind(kafka: AIOKafkaConsumer, records: list[ConsumerRecord[bytes, bytes]]) -> None:
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(earliest.get(tp, record.offset), record.offset)
    for tp, offset in earliest.items():
        with contextlib.suppress(Exception):  # a partition revoked meanwhile
            kafka.seek(tp, offset)


def _on_message(
    runtime: ConsumerRuntime, pacer: FetchPacer | None = None
) -> Callable[[KafkaMessage], Awaitable[None]]:
    async def on_message(msg: KafkaMessage) -> None:
        kafka = msg.consumer if isinstance(msg.consumer, AIOKafkaConsumer) else None
        paused = _Paused(kafka) if kafka is not None else None
        keepalive = paused.keepalive if paused is not None else None
        if pacer is not None:
            pacer.begin()
        try:
            records = [msg.raw_message]
            if kafka is not None:  # the same positions the ack below commits
                fetched = await kafka.getmany(timeout_ms=0, max_records=LIVE_BATCH - 1)
                records += itertools.chain.from_iterable(fetched.values())
            if len(records) == 1:
                await runtime.process(records[0], keepalive)
            else:
                await runtime.process_batch(records, keepalive)
        except BaseException:
            if kafka is not None:  # a later ack must not commit past what was never applied
                _rewind(kafka, records)
            raise
        finally:
            if paused is not None:
                paused.resume()
            if pacer is not None:
                pacer.end()
        await msg.ack()  # commits every position consumed, the batch's records included

    on_message.__name__ = f"consume_{runtime.consumer.name.replace('-', '_')}"
    return on_message


class PacedBroker(KafkaBroker):
    """A KafkaBroker whose subscribers fetch only when woken (``messaging.wake``): for a
    broker that does not answer a waiting fetch when records arrive."""

    def __init__(self, *args: Any, wake: WakeListener, pacers: list[FetchPacer], **kw: Any):
        super().__init__(*args, **kw)
        self.wake = wake
        self.pacers = pacers
        self._pacing: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await super().start()
        if not self._pacing:
            self.wake.start()
            self._pacing = [asyncio.create_task(p.run()) for p in self.pacers]

    async def stop(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> None:
        for task in self._pacing:
            task.cancel()
        self._pacing = []
        self.wake.close()
        await super().stop(exc_type, exc_val, exc_tb)


def create_broker(settings: ServiceSettings, runtimes: Iterable[ConsumerRuntime]) -> KafkaBroker:
    options: dict[str, Any] = {
        "client_id": settings.service_name,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "enable_idempotence": False,
        "security": faststream_security(settings),
    }
    wake = WakeListener(settings.kafka_wake_dir) if settings.kafka_wake_dir else None
    pacers: list[FetchPacer] = []
    broker = (
        PacedBroker(settings.kafka_bootstrap, wake=wake, pacers=pacers, **options)
        if wake is not None
        else KafkaBroker(settings.kafka_bootstrap, **options)
    )
    fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
    if wake is not None:
        fetch_max_wait_ms = min(fetch_max_wait_ms, PACED_FETCH_MAX_WAIT_MS)
    for runtime in runtimes:
        subscriber = broker.subscriber(
            *runtime.consumer.topics,
            group_id=group_id(settings, runtime.consumer.name),
            decoder=raw_bytes,
            ack_policy=AckPolicy.MANUAL,  # commit only after the inbox transaction committed
            auto_offset_reset="earliest",
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        pacer = None
        if wake is not None:
            pacer = FetchPacer(
                runtime.consumer.topics,
                functools.partial(getattr, subscriber, "consumer", None),
                settings.kafka_idle_fetch_s,
            )
            wake.register(pacer)
            pacers.append(pacer)
        subscriber(_on_message(runtime, pacer))
    return broker


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options())
    await admin.start()
    try:
        for topic in sorted(set(topics)):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
    finally:
        await admin.close()


async def retry_forever(
    start: Callable[[], Awaitable[object]], what: str, log: FilteringBoundLogger
) -> None:
    """Call ``start`` until it succeeds: a service comes up even while the broker is away."""
    delay = 0.5
    while True:
        try:
            await start()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{what} not reachable yet", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
