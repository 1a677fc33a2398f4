from __future__ import annotations

import psycopg

from .conftest import DEFAULT_RULE_ID


async def test_the_default_rule_and_its_event_are_seeded(database_url):
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rule = await (
            await conn.execute("SELECT id::text, is_default, targets, revision FROM routing_rules")
        ).fetchall()
        events = await (
            await conn.execute("SELECT key, payload->>'revision', payload->'targets' FROM outbox")
        ).fetchall()
    target = {
        "provider": "offline",
        "model": "vareon-offline-1",
        "input_price_per_1k": 0,
        "output_price_per_1k": 0,
    }
    assert rule == [(DEFAULT_RULE_ID, True, [target], 1)]
    assert events == [(DEFAULT_RULE_ID, "1", [target])]
