"""Replay throughput: ConsumerRuntime with the inbox vs a raw aiokafka loop, side by side.

Run: ``uv run python bench/replay.py [--events N]``. Starts embedded PostgreSQL and the
embedded broker on loopback (nothing else is touched), writes N CloudEvents to a 3-partition
topic, then reads the same records twice: a raw aiokafka consume loop that only counts them,
and ``ConsumerRuntime.process`` for each (decode, validate, inbox row + one effect row in one
transaction), as ``vareon replay rebuild`` does. Prints events/s for each and the ratio.
The default is 20,000 events, not 100,000: the runtime does a few hundred events/s on a
2-core machine, so 100k takes minutes (``--events 100000`` if you have them).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import func, insert, select
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.embedded import EmbeddedBroker, EmbeddedPostgres
from vareon_chassis.messaging.broker import ensure_topics
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer, EventHandler
from vareon_chassis.migrations import upgrade
from vareon_contracts import Envelope, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1

FIXTURE = Path(__file__).resolve().parents[1] / "libs/chassis/tests/fixture_service"
TOPIC = "bench.replay"
PARTITIONS = 3

spec = importlib.util.spec_from_file_location("bench_fixture_models", FIXTURE / "models.py")
fixture = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(fixture)  # type: ignore[union-attr]


async def produce(bootstrap: str, n: int) -> None:
    await ensure_topics(bootstrap, [TOPIC], PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for start in range(0, n, 2000):
            sends = []
            for i in range(start, min(start + 2000, n)):
                envelope = Envelope.wrap(
                    UserRegisteredV1(
                        user_id=uuid.uuid4(),
                        email=f"b{i}@example.com",
                        display_name=f"bench {i}",
                        registered_at=datetime.now(UTC),
                    ),
                    source="/bench",
                )
                key, value, headers = encode_kafka(envelope)
                sends.append(await producer.send(TOPIC, value, key=key, headers=headers))
            await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def consume(bootstrap: str, n: int, apply) -> float:
    """Read every record of TOPIC from the start (no group), ``apply`` each; returns seconds."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=500
    )
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        began, seen = time.perf_counter(), 0
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    await apply(record)
                    seen += 1
        return time.perf_counter() - began
    finally:
        await consumer.stop()


def recording_consumer() -> EventConsumer:
    consumer = EventConsumer(name="bench.replay", topics=(TOPIC,))

    async def record(session, payload, envelope):
        await session.execute(
            insert(fixture.effects).values(event_id=envelope.id, note=payload.display_name)
        )

    consumer.handlers[UserRegisteredV1.event_type] = EventHandler(UserRegisteredV1, record)
    return consumer


async def measure(bootstrap: str, database_url: str, n: int) -> None:
    began = time.perf_counter()
    await produce(bootstrap, n)
    print(f"produced {n} events in {time.perf_counter() - began:.1f} s")

    async def count(record) -> None:
        return None

    raw_s = await consume(bootstrap, n, count)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    dead_letters = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await dead_letters.start()
    try:
        runtime = ConsumerRuntime(recording_consumer(), sessions, fixture.inbox_table, dead_letters)
        outcomes: dict[str, int] = {}

        async def process(record) -> None:
            outcome = await runtime.process(record)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        runtime_s = await consume(bootstrap, n, process)
        async with sessions() as session:
            rows = await session.scalar(select(func.count()).select_from(fixture.effects))
    finally:
        await dead_letters.stop()
        await engine.dispose()
    assert outcomes == {"applied": n} and rows == n, (outcomes, rows)
    raw, inbox = n / raw_s, n / runtime_s
    print(f"{'raw aiokafka loop':>28}: {raw:9.0f} events/s ({raw_s:.1f} s)")
    print(f"{'ConsumerRuntime + inbox':>28}: {inbox:9.0f} events/s ({runtime_s:.1f} s)")
    print(f"ratio raw / runtime: {raw / inbox:.1f}x (the runtime's cost is one transaction/event)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vareon-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
        broker = EmbeddedBroker(Path(tmp) / "tansu.log")
        postgres.start()
        try:
            broker.start()
            url = postgres.create_database("bench_replay")
            upgrade(str(FIXTURE / "alembic.ini"), url)
            asyncio.run(measure(broker.bootstrap, url, args.events))
        finally:
            broker.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
