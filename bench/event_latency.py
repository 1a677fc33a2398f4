"""Event latency: raw aiokafka produce→consume beside the chassis' outbox→relay→consumer path.

Run: ``uv run python bench/event_latency.py [--events N] [--rounds R]``. Starts embedded
PostgreSQL and the embedded broker on loopback, then alternates rounds of

- **raw**: an aiokafka producer (``acks=all``) sends one record, a group consumer
  (``getone``) receives it; the next record is sent after the previous one arrived;
- **ours**: a service built by ``create_service`` (the chassis fixture schema: outbox, inbox,
  one effect table) stages ``user.registered`` in its outbox and commits; its relay sends
  the row, the broker acknowledges it, the service's own consumer (FastStream subscriber,
  ``ConsumerRuntime``) receives it and commits the inbox row and the effect. One event at a
  time, as with raw.

Times come from wrappers around the relay's producer and ``ConsumerRuntime.process`` (this
file only; nothing is instrumented in the chassis). Prints percentiles per leg
(commit → relay send → broker ack → consumer receive → effect committed), the raw figures and
the ratio of "relay ack → effect committed" to raw produce→receive (target p95 <= 5x).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from asgi_lifespan import LifespanManager
from vareon_chassis import service as chassis_service
from vareon_chassis.embedded import EmbeddedBroker, EmbeddedPostgres
from vareon_chassis.messaging.broker import create_producer, ensure_topics
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.wake import PACED_FETCH_MAX_WAIT_MS
from vareon_chassis.migrations import upgrade
from vareon_chassis.service import Messaging, consumers_assigned, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_contracts.events.identity import UserRegisteredV1
from vareon_contracts.topics import IDENTITY_USER

FIXTURE = Path(__file__).resolve().parents[1] / "libs/chassis/tests/fixture_service"
RAW_TOPIC = "bench.latency.raw"
spec = importlib.util.spec_from_file_location("bench_fixture_models", FIXTURE / "models.py")
fixture = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(fixture)  # type: ignore[union-attr]

marks: dict[str, dict[str, float]] = defaultdict(dict)
"""event id -> {leg: perf_counter()}"""
arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)


def _ce_id(headers: Any) -> str | None:
    for name, value in headers or ():
        if name == "ce_id":
            return bytes(value).decode()
    return None


def timed_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """The relay's producer, noting when each record is handed over and acknowledged."""
    producer = create_producer(settings)
    send = producer.send

    async def timed_send(topic: str, value: Any = None, key: Any = None, **kw: Any) -> Any:
        event_id = _ce_id(kw.get("headers"))
        if event_id is not None:
            marks[event_id]["send"] = time.perf_counter()
        future = await send(topic, value=value, key=key, **kw)
        if event_id is not None:
            future.add_done_callback(
                lambda _f, e=event_id: marks[e].__setitem__("ack", time.perf_counter())
            )
        return future

    producer.send = timed_send
    return producer


_process = ConsumerRuntime.process


async def timed_process(self: ConsumerRuntime, record: Any, keepalive: Any = None) -> str:
    event_id = _ce_id(record.headers)
    if event_id is not None:
        marks[event_id]["receive"] = time.perf_counter()
    outcome = await _process(self, record, keepalive)
    if event_id is not None:
        marks[event_id]["effect"] = time.perf_counter()
        arrived[event_id].set()
    return outcome


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{name:>34}: p50 {pct(ms, 0.5):7.2f}  p95 {pct(ms, 0.95):7.2f}  "
        f"p99 {pct(ms, 0.99):7.2f}  max {max(ms):7.2f} ms"
    )


async def raw_round(bootstrap: str, n: int) -> tuple[list[float], list[float]]:
    topic = f"{RAW_TOPIC}.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
        # The embedded broker answers an empty fetch after ~half its max wait, not when a
        # record lands: a short wait is the fastest a raw consumer gets here (it polls).
        fetch_max_wait_ms=PACED_FETCH_MAX_WAIT_MS,
    )
    await producer.start()
    await consumer.start()
    acks, receives = [], []
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event
            await asyncio.sleep(0.01)
        await producer.send_and_wait(topic, b"warm-up", key=b"w")
        await consumer.getone()
        for _ in range(n):
            began = time.perf_counter()
            acked: list[float] = []
            future = await producer.send(topic, b"x" * 300, key=str(uuid.uuid4()).encode())
            future.add_done_callback(lambda _f, a=acked: a.append(time.perf_counter()))
            await consumer.getone()
            got = time.perf_counter()
            await future
            acks.append(acked[0] - began)
            receives.append(got - began)
    finally:
        await consumer.stop()
        await producer.stop()
    return acks, receives


def bench_app(settings: ServiceSettings) -> tuple[Any, Outbox]:
    consumer = EventConsumer(name="bench.latency", topics=(IDENTITY_USER,))

    @consumer.on(UserRegisteredV1)
    async def record(session, payload, envelope):
        await session.execute(
            fixture.effects.insert().values(event_id=envelope.id, note=payload.display_name)
        )

    outbox = Outbox(fixture.outbox_table, "/bench")
    app = create_service(
        settings,
        title="bench",
        messaging=Messaging(outbox=outbox, inbox=fixture.inbox_table, consumers=[consumer]),
    )
    return app, outbox


async def ours_round(settings: ServiceSettings, n: int) -> dict[str, list[float]]:
    app, outbox = bench_app(settings)
    legs: dict[str, list[float]] = defaultdict(list)
    async with LifespanManager(app):
        deadline = time.monotonic() + 60
        while True:
            body = {"assignment": chassis_service.consumer_assignment(app)}
            if consumers_assigned(body) and getattr(app.state, "relay", None) is not None:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer not assigned: {body}")
            await asyncio.sleep(0.02)
        for i in range(n + 1):  # the first is a warm-up
            async with app.state.sessionmaker.begin() as session:
                envelope = await outbox.publish(
                    session,
                    UserRegisteredV1(
                        user_id=uuid.uuid4(),
                        email=f"b{i}@example.com",
                        display_name=f"bench {i}",
                        registered_at=datetime.now(UTC),
                    ),
                )
            marks[envelope.id]["commit"] = time.perf_counter()
            await asyncio.wait_for(arrived[envelope.id].wait(), 30)
            m = marks.pop(envelope.id)
            if i == 0:
                continue
            legs["commit → relay send"].append(m["send"] - m["commit"])
            legs["relay send → broker ack"].append(m["ack"] - m["send"])
            legs["broker ack → consumer receive"].append(m["receive"] - m["ack"])
            legs["receive → effect committed"].append(m["effect"] - m["receive"])
            legs["relay ack → effect committed"].append(m["effect"] - m["ack"])
            legs["commit → effect committed"].append(m["effect"] - m["commit"])
    return legs


async def measure(
    bootstrap: str, database_url: str, events: int, rounds: int, wake_dir: str | None
) -> None:
    await ensure_topics(bootstrap, [IDENTITY_USER], 3)
    settings = ServiceSettings(
        kafka_wake_dir=wake_dir,
        service_name="bench-latency",
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        kafka_session_timeout_ms=3000,
        kafka_heartbeat_interval_ms=1000,
        log_level="WARNING",
    )
    chassis_service.create_producer = timed_producer
    ConsumerRuntime.process = timed_process  # type: ignore[method-assign]
    raw_ack: list[float] = []
    raw_receive: list[float] = []
    ours: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        acks, receives = await raw_round(bootstrap, events)
        raw_ack += acks
        raw_receive += receives
        for leg, values in (await ours_round(settings, events)).items():
            ours[leg] += values
    print(
        f"{events} events x {rounds} rounds, one at a time, 3 partitions, embedded broker, "
        f"fetch wake-ups {'on' if wake_dir else 'off (consumers long-poll)'}"
    )
    print(f"raw aiokafka (group consumer polling, fetch_max_wait_ms={PACED_FETCH_MAX_WAIT_MS})")
    print(summary("produce → ack", raw_ack))
    print(summary("produce → group consumer receive", raw_receive))
    print("ours (outbox → relay → FastStream consumer → inbox + effect)")
    for leg, values in ours.items():
        print(summary(leg, values))
    target = ours["relay ack → effect committed"]
    for q, label in ((0.5, "p50"), (0.95, "p95")):
        ratio = pct(target, q) / pct(raw_receive, q)
        print(f"ratio relay ack → effect committed / raw produce → receive, {label}: {ratio:.1f}x")
    print(
        "median of ours commit → effect committed: "
        f"{statistics.median(ours['commit → effect committed']) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--no-wake", action="store_true", help="without kafka_wake_dir (as before issue 24)"
    )
    args = parser.parse_args()
    logging.getLogger("faststream").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="vareon-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
        broker = EmbeddedBroker(Path(tmp) / "tansu.log")
        postgres.start()
        try:
            broker.start()
            url = postgres.create_database("bench_latency")
            upgrade(str(FIXTURE / "alembic.ini"), url)
            wake_dir = None if args.no_wake else str(Path(tmp) / "wake")
            asyncio.run(measure(broker.bootstrap, url, args.events, args.rounds, wake_dir))
        finally:
            broker.stop()
            postgres.stop()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
