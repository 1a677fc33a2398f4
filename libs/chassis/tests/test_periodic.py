"""periodic(): the one background loop (errors logged and retried, batches, wake, bounded stop)."""

from __future__ import annotations

import asyncio
import random

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs
from vareon_chassis.periodic import next_wait_s, periodic, repeat

DONE = 10.0
"""Only a guard against a hang: every wait below ends on an event, never on this."""


async def test_a_failing_step_is_logged_with_its_traceback_and_tried_again() -> None:
    calls: list[int] = []
    recovered = asyncio.Event()

    async def step(app: FastAPI) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("boom")
        if len(calls) == 2:
            raise OperationalError("select 1", {}, ConnectionError("database away"))
        recovered.set()

    with capture_logs() as logs:
        async with periodic("test-step", step, every_s=0.01)(FastAPI()):
            await asyncio.wait_for(recovered.wait(), DONE)
    failures = [e for e in logs if e["event"] == "periodic step failed"]
    assert failures[0]["task"] == "test-step"
    assert failures[0]["log_level"] == "error" and failures[0]["exc_info"] is True
    assert failures[1]["log_level"] == "warning" and "database away" in failures[1]["error"]


async def test_a_step_with_work_left_runs_again_at_once_and_wake_ends_the_wait() -> None:
    calls = 0
    third, fourth = asyncio.Event(), asyncio.Event()
    wake = asyncio.Event()

    async def step(app: FastAPI) -> bool:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        if calls == 4:
            fourth.set()
        return calls < 3  # two full batches, then caught up

    async with periodic("batches", step, every_s=3600, wake=wake)(FastAPI()):
        await asyncio.wait_for(third.wait(), DONE)  # not an hour later: batches run back to back
        assert calls == 3
        wake.set()  # work was queued: the hour's wait ends now
        await asyncio.wait_for(fourth.wait(), DONE)


async def test_first_delay_holds_the_first_round() -> None:
    calls = 0

    async def step(app: FastAPI) -> None:
        nonlocal calls
        calls += 1

    async with periodic("later", step, every_s=1, first_delay_s=3600)(FastAPI()):
        for _ in range(5):
            await asyncio.sleep(0)
    assert calls == 0


async def test_shutdown_ends_even_when_a_step_swallows_the_cancellation() -> None:
    started, calls = asyncio.Event(), 0

    async def stubborn(app: FastAPI) -> None:
        nonlocal calls
        calls += 1
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return  # as a client library mid-send may do

    resource = periodic("stubborn", stubborn, every_s=0.01, jitter=0)(FastAPI())
    await resource.__aenter__()
    await asyncio.wait_for(started.wait(), DONE)
    await asyncio.wait_for(resource.__aexit__(None, None, None), DONE)
    assert calls == 1  # the loop honoured the cancellation instead of stepping again


def test_waits_are_jittered_within_bounds() -> None:
    rng = random.Random(7)
    waits = [next_wait_s(10.0, 0.2, rng) for _ in range(200)]
    assert all(8.0 <= w <= 12.0 for w in waits)
    assert len({round(w, 3) for w in waits}) > 100
    assert next_wait_s(10.0, 0.0) == 10.0
    with pytest.raises(ValueError):
        periodic("bad", lambda app: asyncio.sleep(0), every_s=0)


async def test_repeat_is_the_same_loop_for_a_task_its_owner_cancels() -> None:
    rounds = asyncio.Event()
    calls = 0

    async def extend() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            rounds.set()

    keeper = asyncio.create_task(repeat("keeper", extend, every_s=0.01, first_delay_s=0.01))
    await asyncio.wait_for(rounds.wait(), DONE)
    keeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await keeper
