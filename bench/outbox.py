"""Relay publishing: send-all-then-await, chunks acked in turn (what the relay does: per-key
order under a broker stall), and awaiting each send, side by side.

Run: ``uv run python bench/outbox.py [--records N] [--rounds R]``. Starts the embedded broker,
then alternates rounds of the ways the relay could publish a batch of outbox rows
(``acks=all``, CloudEvents headers, ~300-byte values) and prints records/s and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from vareon_chassis.embedded import EmbeddedBroker
from vareon_chassis.messaging.broker import ensure_topics
from vareon_chassis.messaging.relay import IN_FLIGHT_BYTES, RECORD_OVERHEAD_BYTES

TOPIC = "bench.outbox"
BATCH = 200  # the relay's default batch size


def rows(n: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    return [
        (
            str(uuid.uuid4()).encode(),
            b'{"user_id":"' + str(uuid.uuid4()).encode() + b'","balance":' + b"1" * 240 + b"}",
            [("ce_id", str(uuid.uuid4()).encode()), ("ce_type", b"vareon.bench.v1")],
        )
        for _ in range(n)
    ]


async def send_all_then_await(producer: AIOKafkaProducer, batch) -> None:
    futures = [await producer.send(TOPIC, v, key=k, headers=h) for k, v, h in batch]
    await asyncio.gather(*futures)


async def chunks_acked_in_turn(producer: AIOKafkaProducer, batch) -> None:
    futures: list[asyncio.Future[Any]] = []
    size = 0
    for k, v, h in batch:
        cost = len(k) + len(v) + RECORD_OVERHEAD_BYTES + sum(len(a) + len(b) for a, b in h)
        if futures and size + cost > IN_FLIGHT_BYTES:
            await asyncio.gather(*futures)
            futures, size = [], 0
        futures.append(await producer.send(TOPIC, v, key=k, headers=h))
        size += cost
    await asyncio.gather(*futures)


async def await_each(producer: AIOKafkaProducer, batch) -> None:
    for k, v, h in batch:
        await producer.send_and_wait(TOPIC, v, key=k, headers=h)


async def measure(bootstrap: str, records: int, rounds: int) -> None:
    await ensure_topics(bootstrap, [TOPIC], 3)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2
    )
    await producer.start()
    modes = (
        ("send-all-then-await", send_all_then_await),
        ("chunks-acked-in-turn", chunks_acked_in_turn),
        ("await-each", await_each),
    )
    rates: dict[str, list[float]] = {name: [] for name, _ in modes}
    try:
        for _ in range(rounds):
            for name, fn in modes:
                data = rows(records)
                began = time.perf_counter()
                for i in range(0, records, BATCH):
                    await fn(producer, data[i : i + BATCH])
                rates[name].append(records / (time.perf_counter() - began))
    finally:
        await producer.stop()
    for name, values in rates.items():
        print(f"{name:>20}: {statistics.median(values):8.0f} records/s (median of {rounds})")
    median = {name: statistics.median(values) for name, values in rates.items()}
    fast, chunked, each = (median[name] for name, _ in modes)
    print(f"ratio send-all-then-await / await-each: {fast / each:.1f}x")
    print(f"ratio chunks-acked-in-turn / send-all-then-await: {chunked / fast:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(Path(tmp) / "tansu.log")
        broker.start()
        try:
            asyncio.run(measure(broker.bootstrap, args.records, args.rounds))
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
