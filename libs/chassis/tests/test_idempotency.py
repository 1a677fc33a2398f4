"""vareon_chassis.idempotency: a key is claimed in the request's transaction; a concurrent
claim of it waits for that transaction and replays its result, or claims it after a rollback."""

import asyncio
import uuid

import pytest
from pydantic import BaseModel
from sqlalchemy import MetaData
from vareon_chassis import idempotency
from vareon_chassis.db import create_engine, create_sessionmaker


class Body(BaseModel):
    b: int
    a: str


def test_the_fingerprint_is_of_the_content_not_its_spelling():
    assert idempotency.fingerprint(Body(a="x", b=1)) == idempotency.fingerprint({"b": 1, "a": "x"})
    assert idempotency.fingerprint({"a": "x", "b": 1}) != idempotency.fingerprint({"a": "x"})


async def test_claim_remember_replay_and_refuse(fixture_db):
    table = idempotency.define_idempotency_keys(MetaData())
    engine = create_engine(fixture_db)
    sessions = create_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.create, checkfirst=True)
        scope = idempotency.Scope(uuid.uuid4(), "act", "k")

        first = sessions()
        await first.begin()
        assert await idempotency.claim(first, table, scope, "h1") is None
        async with sessions.begin() as second:  # waits on the uncommitted claim
            waiting = asyncio.create_task(idempotency.claim(second, table, scope, "h1"))
            await asyncio.sleep(0.2)  # give it the chance to (wrongly) answer early
            assert not waiting.done()
            await idempotency.remember(first, table, scope, {"id": 1})
            await first.commit()
            await first.close()
            assert await asyncio.wait_for(waiting, 30) == {"id": 1}

        async with sessions.begin() as session:
            with pytest.raises(idempotency.IdempotencyKeyReused):
                await idempotency.claim(session, table, scope, "h2")
        other_owner = idempotency.Scope(uuid.uuid4(), "act", "k")
        async with sessions() as session:
            assert await idempotency.claim(session, table, other_owner, "h2") is None
            await session.rollback()  # a refused request: the key is free again
        async with sessions.begin() as session:
            assert await idempotency.claim(session, table, other_owner, "h3") is None
    finally:
        await engine.dispose()
