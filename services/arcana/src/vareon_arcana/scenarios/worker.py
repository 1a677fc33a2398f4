"""The scenario worker: a periodic step of the app (``vareon_chassis.periodic``) that claims
runs (up to ``ARCANA_SCENARIO_PARALLEL_RUNS`` at once, each in its own task) and plays each
run's conversations in order, recording each as it ends.

Claims are rows (``FOR UPDATE SKIP LOCKED``, so replicas never play one run twice) with a
lease the worker renews while it plays (chassis ``repeat``). A run whose lease passed (its
worker died) is claimed again and resumes after its last recorded conversation. A cancel or
a deletion is seen before each conversation and when one is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_chassis.errors import DomainError
from vareon_chassis.periodic import periodic, repeat
from vareon_chassis.service import STOP_TIMEOUT_S, Resource

from vareon_arcana.calls import Caller, Calls
from vareon_arcana.scenarios import playing
from vareon_arcana.scenarios.expectations import TurnPlayed, judge
from vareon_arcana.scenarios.models import ScenarioResult, ScenarioRun
from vareon_arcana.scenarios.runs import COMPLETED, QUEUED, RUNNING
from vareon_arcana.scenarios.schemas import Expect
from vareon_arcana.settings import ArcanaSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    caller: Caller
    charge: bool
    plan: dict[str, Any]


class ScenarioWorker:
    def __init__(self, settings: ArcanaSettings) -> None:
        self.lease_s = settings.scenario_lease_s
        self.every_s = settings.scenario_poll_s
        self.active_runs = settings.scenario_active_runs
        self.parallel = settings.scenario_parallel_runs
        self._wakeup = asyncio.Event()
        self._playing: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """After a commit that queued a run: play it now rather than at the next poll."""
        self._wakeup.set()

    def loop(self) -> Resource:
        """The periodic step, and at shutdown the runs being played stopped (their leases
        run out and another process resumes them)."""
        stepping = periodic("scenario-runs", self.step, every_s=self.every_s, wake=self._wakeup)

        @contextlib.asynccontextmanager
        async def running(app: FastAPI) -> AsyncIterator[None]:
            async with stepping(app):
                try:
                    yield
                finally:
                    playing = list(self._playing)
                    for task in playing:
                        task.cancel()
                    if playing:
                        await asyncio.wait(playing, timeout=STOP_TIMEOUT_S)

        return running

    async def step(self, app: FastAPI) -> bool:
        """Claim runs while fewer than ``parallel`` are being played, each played in its own
        task (one that ends wakes the step for the next)."""
        calls: Calls = app.state.calls
        while len(self._playing) < self.parallel:
            claimed = await self.claim(calls.sessionmaker)
            if claimed is None:
                break
            task = asyncio.create_task(self.play(calls, claimed))
            self._playing.add(task)
            task.add_done_callback(self._played)
        return False

    def _played(self, task: asyncio.Task[None]) -> None:
        self._playing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("playing a scenario run failed", error=repr(task.exception()))
        self.wake()

    async def claim(self, sessionmaker: async_sessionmaker[AsyncSession]) -> Claimed | None:
        now = datetime.now(UTC)
        async with sessionmaker.begin() as session:
            run = await session.scalar(
                select(ScenarioRun)
                .where(
                    or_(
                        ScenarioRun.status == QUEUED,
                        (ScenarioRun.status == RUNNING) & (ScenarioRun.lease_until < now),
                    )
                )
                .order_by(ScenarioRun.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if run is None:
                return None
            if run.status == RUNNING:
                log.info("resuming a scenario run whose worker stopped", run_id=run.id)
            run.status = RUNNING
            run.started_at = run.started_at or now
            run.lease_until = now + timedelta(seconds=self.lease_s)
            caller = Caller(run.owner_id, frozenset(run.roles), frozenset(), run.verified)
            return Claimed(run.id, caller, run.charge, run.plan)

    async def play(self, calls: Calls, claimed: Claimed) -> None:
        keeper = asyncio.create_task(self._keep_lease(calls.sessionmaker, claimed.id))
        try:
            await self._conversations(calls, claimed)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _conversations(self, calls: Calls, claimed: Claimed) -> None:
        async with calls.sessionmaker() as session:
            recorded = set(
                await session.scalars(
                    select(ScenarioResult.position).where(ScenarioResult.run_id == claimed.id)
                )
            )
        given: playing.Setup | None = None
        unplayable: str | None = None
        try:
            given = await playing.setup(calls, claimed.caller, claimed.plan, claimed.charge)
        except DomainError as exc:  # the persona went: every conversation fails with why
            unplayable = f"{exc.title}: {exc.detail}"
        for position, conversation in enumerate(claimed.plan["conversations"]):
            if position in recorded:
                continue
            if not await self._running(calls.sessionmaker, claimed.id):
                return
            turns: list[TurnPlayed] = []
            error = unplayable
            if given is not None:
                turns, error = await playing.play(
                    calls,
                    given,
                    conversation["turns"],
                    json_mode=conversation["json_mode"],
                    max_tokens=conversation["max_tokens"],
                )
            expect = Expect.model_validate(conversation["expect"])
            if not await self._record(
                calls.sessionmaker, claimed.id, position, conversation, expect, turns, error
            ):
                return
        async with calls.sessionmaker.begin() as session:
            run = await session.get(ScenarioRun, claimed.id, with_for_update=True)
            if run is not None and run.status == RUNNING:
                run.status, run.finished_at, run.lease_until = COMPLETED, datetime.now(UTC), None

    async def _running(
        self, sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID
    ) -> bool:
        async with sessionmaker() as session:
            status = await session.scalar(
                select(ScenarioRun.status).where(ScenarioRun.id == run_id)
            )
        return status == RUNNING

    async def _record(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        run_id: uuid.UUID,
        position: int,
        conversation: dict[str, Any],
        expect: Expect,
        turns: list[TurnPlayed],
        error: str | None,
    ) -> bool:
        """Store the conversation's result (unless its run was deleted meanwhile); True while
        the run goes on."""
        verdicts = judge(expect, turns, error)
        passed = all(v.passed for v in verdicts)
        times = [t.ttft_ms for t in turns if t.ttft_ms is not None]
        async with sessionmaker.begin() as session:
            run = await session.get(ScenarioRun, run_id, with_for_update=True)
            if run is None:
                return False
            session.add(
                ScenarioResult(
                    run_id=run_id,
                    position=position,
                    key=conversation["key"],
                    passed=passed,
                    rule=turns[-1].rule if turns else None,
                    provider=turns[-1].provider if turns else None,
                    model=turns[-1].model if turns else None,
                    tokens_in=sum(t.tokens_in for t in turns),
                    tokens_out=sum(t.tokens_out for t in turns),
                    cost=sum(t.cost for t in turns),
                    ttft_ms=max(times) if times else None,
                    total_ms=sum(t.total_ms for t in turns),
                    checks=[v.json() for v in verdicts],
                    turns=[t.json() for t in turns],
                    error=error,
                )
            )
            run.done += 1
            run.passed += int(passed)
            run.failed += int(not passed)
            if run.status == RUNNING:
                run.lease_until = datetime.now(UTC) + timedelta(seconds=self.lease_s)
            return run.status == RUNNING

    async def _keep_lease(
        self, sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID
    ) -> None:
        async def renew() -> None:
            async with sessionmaker.begin() as session:
                run = await session.get(ScenarioRun, run_id, with_for_update=True)
                if run is not None and run.status == RUNNING:
                    run.lease_until = datetime.now(UTC) + timedelta(seconds=self.lease_s)

        every = self.lease_s / 3
        await repeat("scenario-lease", renew, every_s=every, first_delay_s=every)
