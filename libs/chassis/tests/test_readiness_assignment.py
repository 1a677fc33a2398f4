"""Readiness reports which partitions each consumer holds (issue 23 item 4)."""

import asyncio
import uuid

import httpx
from asgi_lifespan import LifespanManager
from models import inbox_table
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.service import Messaging, consumers_assigned, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_chassis.testing.plugin import until_ready
from vareon_contracts.topics import IDENTITY_USER, WALLET_BALANCE


def test_assigned_means_every_topic_of_every_consumer_holds_a_partition():
    """Issue 23 item 4: partition 0 alone counts as held; an empty topic does not."""
    assert consumers_assigned({"assignment": {"c": {"t": [0]}, "d": {"u": [0, 1, 2]}}})
    assert not consumers_assigned({"assignment": {"c": {"t": [0]}, "d": {"u": []}}})
    assert consumers_assigned({"status": "ready"})  # no consumers: nothing to wait for


async def test_readiness_lists_the_partitions_each_consumer_holds(fixture_db, infrastructure):
    """Issue 23 item 4: a fixture can wait for its consumers' assignment, not a window."""
    consumer = EventConsumer(
        name=f"assigned-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER, WALLET_BALANCE)
    )
    settings = ServiceSettings(
        service_name="chassis-test", database_url=fixture_db, **infrastructure.service_env()
    )
    app = create_service(
        settings, title="test", messaging=Messaging(inbox=inbox_table, consumers=[consumer])
    )
    async with LifespanManager(app, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while not consumers_assigned(body := (await client.get("/health/ready")).json()):
                assert loop.time() < deadline, body
                await asyncio.sleep(0.05)
    held = body["assignment"][consumer.name]
    assert set(held) == {IDENTITY_USER, WALLET_BALANCE}
    assert all(held.values())
    assert body["status"] == "ready"


async def test_until_ready_waits_for_a_served_apps_consumers(fixture_db, infrastructure, running):
    consumer = EventConsumer(name=f"served-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))
    settings = ServiceSettings(
        service_name="chassis-test", database_url=fixture_db, **infrastructure.service_env()
    )
    app = create_service(
        settings, title="test", messaging=Messaging(inbox=inbox_table, consumers=[consumer])
    )
    body = await until_ready(await running(app))
    assert body["assignment"][consumer.name][IDENTITY_USER]
