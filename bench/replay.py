"""Replay throughput: ConsumerRuntime with the inbox vs a raw aiokafka loop, side by side.

Run: ``uv run python bench/replay.py [--events N]``. Starts embedded PostgreSQL and the
embedded broker on loopback (nothing else is touched), writes N CloudEvents to a 3-partition
topic, then reads the same records twice: a raw aiokafka consume loop that only counts them,
and ``ConsumerRuntime.process`` for each (decode, validate, inbox row + one effect row in one
transaction), as ``vareon replay rebuild`` did (only with ``--per-event``: a few hundred
events/s, minutes for 100k), and ``ConsumerRuntime.process_batch`` for each fetched batch
(one transaction and one inbox statement per batch), as rebuilds and live consumers do now,
then again over the same records (all duplicates: the dedupe alone). Prints events/s and the
ratios. ``--max-records`` is the fetch size (``max_poll_records``). Figures: docs/messaging.md.
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


async def consume(bootstrap: str, n: int, apply, max_records: int = 500) -> float:
    """Read every record of TOPIC from the start (no group), ``apply`` each; returns seconds."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=max_records
    )
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        began, seen = time.perf_counter(), 0
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                await apply(records)  # one partition's records, in order
                seen += len(records)
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


async def measure(
    bootstrap: str, database_url: str, n: int, *, per_event: bool, max_records: int
) -> None:
    began = time.perf_counter()
    await produce(bootstrap, n)
    print(f"produced {n} events in {time.perf_counter() - began:.1f} s")

    async def count(records) -> None:
        return None

    raw_s = await consume(bootstrap, n, count, max_records)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    dead_letters = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await dead_letters.start()
    rows: dict[str, tuple[float, int, dict[str, int]]] = {}
    try:
        runtime = ConsumerRuntime(recording_consumer(), sessions, fixture.inbox_table, dead_letters)

        async def run(name: str, batched: bool, clear: bool) -> None:
            outcomes: dict[str, int] = {}

            async def apply(records) -> None:
                done = (
                    await runtime.process_batch(records)
                    if batched
                    else [await runtime.process(r) for r in records]
                )
                for outcome in done:
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1

            seconds = await consume(bootstrap, n, apply, max_records)
            rows[name] = (seconds, await effect_rows(sessions, clear=clear), outcomes)

        if per_event:
            await run("ConsumerRuntime.process + inbox", batched=False, clear=True)
        await run("process_batch + inbox", batched=True, clear=False)
        await run("process_batch, all duplicates", batched=True, clear=True)
    finally:
        await dead_letters.stop()
        await engine.dispose()
    raw = n / raw_s
    print(f"{'raw aiokafka loop':>34}: {raw:9.0f} events/s ({raw_s:.1f} s)")
    for name, (seconds, effects, outcomes) in rows.items():
        want = {"duplicate": n} if "duplicates" in name else {"applied": n}
        assert outcomes == want and effects == n, (name, outcomes, effects)
        rate = n / seconds
        print(f"{name:>34}: {rate:9.0f} events/s ({seconds:.1f} s), {rate / raw:.3f}x raw")


async def effect_rows(sessions, *, clear: bool) -> int:
    """Rows the runtime wrote; ``clear`` empties effects and inbox for the next mode."""
    async with sessions.begin() as session:
        rows = await session.scalar(select(func.count()).select_from(fixture.effects))
        if clear:
            await session.execute(fixture.effects.delete())
            await session.execute(fixture.inbox_table.delete())
    return int(rows or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-event", action="store_true", help="also one transaction each")
    parser.add_argument("--max-records", type=int, default=500, help="records per fetch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vareon-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
        broker = EmbeddedBroker(Path(tmp) / "tansu.log")
        postgres.start()
        try:
            broker.start()
            url = postgres.create_database("bench_replay")
            upgrade(str(FIXTURE / "alembic.ini"), url)
            asyncio.run(
                measure(
                    broker.bootstrap,
                    url,
                    args.events,
                    per_event=args.per_event,
                    max_records=args.max_records,
                )
            )
        finally:
            broker.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
