"""Routing-rule patterns run off the event loop, under a total per-request budget."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from vareon_arcana.models import RoutingRuleReplica
from vareon_arcana.settings import ArcanaSettings
from vareon_contracts.events.cognisys import RoutingRuleChangedV1, RuleConditions

from .conftest import eventually, rule, target
from .test_chat import new_session

EVIL_RULES = 40


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    # A budget larger than all the patterns' timeouts together: only where they run is tested.
    return settings.model_copy(update={"routing_budget_s": 10.0})


def evil(category: str, n: int) -> RoutingRuleChangedV1:
    return RoutingRuleChangedV1(
        rule_id=uuid.uuid4(),
        revision=1,
        name=f"evil-{n}",
        priority=200 + n,
        enabled=True,
        is_default=False,
        conditions=RuleConditions(categories=[category], pattern="(a|aa)+$"),
        targets=[target("nowhere")],
        deleted=False,
        changed_at=datetime.now(UTC),
    )


async def test_catastrophic_patterns_do_not_stall_the_event_loop(
    client, signing_key, publish, db, fake
):
    """Issue 16 item 10: each pathological rule runs to its timeout; arcana must keep serving
    other requests meanwhile (the matching runs off the event loop)."""
    server, _ = fake
    me = signing_key.headers(uuid.uuid4())
    model = server.behave(f"free-{uuid.uuid4().hex[:6]}", words=["ok"])
    category = f"cat-{uuid.uuid4().hex[:8]}"
    events = [evil(category, n) for n in range(EVIL_RULES)] + [rule(category, [target(model)])]
    for event in events:
        await publish(event)

    async def replicated():
        async with db() as s:
            ids = [e.rule_id for e in events]
            found = await s.scalar(select(func.count()).where(RoutingRuleReplica.rule_id.in_(ids)))
            return found == len(events)

    await eventually(replicated)
    sid = await new_session(client, me, category)

    gaps: list[float] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            started = time.monotonic()
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - started)

    watcher = asyncio.create_task(watch())
    try:
        response = await client.post(
            f"/api/v1/arcana/sessions/{sid}/messages",
            headers=me,
            json={"content": "a" * 60 + "b", "stream": False},
        )
    finally:
        done.set()
        await watcher
    assert response.status_code == 200, response.text
    assert response.json()["rule"] == f"rule-{category}"
    # The patterns together block for EVIL_RULES x 50 ms = 2 s when they run on the loop.
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f} s"
