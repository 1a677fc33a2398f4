"""periodic(): a step the app runs every few seconds for its whole life (sweepers, pollers).

One loop for every service, so each gets the same behaviour: a failing step is logged (with
its traceback, or as one warning line while the database or broker is away) and tried again
at the next round; rounds are jittered so replicas started together do not step in lockstep;
a step that says it left work behind runs again at once; a ``wake`` event ends the wait early;
shutdown is bounded (``background``: cancelled, abandoned after ``STOP_TIMEOUT_S``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI

from vareon_chassis.messaging.consumer import is_outage
from vareon_chassis.service import Resource, background

log = structlog.get_logger(__name__)
Step = Callable[[FastAPI], Awaitable[bool | None]]
"""One round's work. Returning True means "more is waiting": the next round starts at once."""


def next_wait_s(every_s: float, jitter: float, rng: random.Random | None = None) -> float:
    """``every_s`` moved by up to ``jitter`` of itself either way (never below zero)."""
    spread = every_s * jitter
    return max(0.0, every_s + (rng or random).uniform(-spread, spread))


def periodic(
    name: str,
    step: Step,
    *,
    every_s: float,
    jitter: float = 0.1,
    first_delay_s: float = 0.0,
    wake: asyncio.Event | None = None,
) -> Resource:
    """A ``create_service(resources=...)`` entry running ``step(app)`` every ``every_s``.

    ``first_delay_s`` waits before the first round (a poller whose work cannot exist yet at
    start). ``wake``, when given, is cleared before each round and ends the wait when set
    (work was just queued: do it now, not at the next round).
    """
    _check(every_s, jitter)

    async def run(app: FastAPI) -> None:
        async def round_of_app() -> bool | None:
            return await step(app)

        await repeat(
            name,
            round_of_app,
            every_s=every_s,
            jitter=jitter,
            first_delay_s=first_delay_s,
            wake=wake,
        )

    return background(run)


async def repeat(
    name: str,
    step: Callable[[], Awaitable[bool | None]],
    *,
    every_s: float,
    jitter: float = 0.1,
    first_delay_s: float = 0.0,
    wake: asyncio.Event | None = None,
) -> None:
    """The loop itself, until cancelled: for a task that lives shorter than the app (a call
    keeping its reservation alive) and is cancelled by its owner. Same rules as ``periodic``."""
    _check(every_s, jitter)
    task = asyncio.current_task()
    if first_delay_s > 0:
        await asyncio.sleep(first_delay_s)
    while True:
        if task is not None and task.cancelling():
            # a library swallowed the shutdown's cancellation inside the step: honour it
            raise asyncio.CancelledError
        if wake is not None:
            wake.clear()
        more = False
        try:
            more = await step() is True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_outage(exc):  # the database or broker is away: expected, and tried again
                log.warning("periodic step failed", task=name, error=repr(exc))
            else:
                log.exception("periodic step failed", task=name)
        if more:
            await asyncio.sleep(0)  # let the rest of the app run between batches
            continue
        await _wait(next_wait_s(every_s, jitter), wake)


def _check(every_s: float, jitter: float) -> None:
    if every_s <= 0 or not 0 <= jitter < 1:
        raise ValueError("every_s must be positive and jitter in [0, 1)")


async def _wait(seconds: float, wake: asyncio.Event | None) -> None:
    if wake is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(wake.wait(), seconds)
    except TimeoutError:
        pass
