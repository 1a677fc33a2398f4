"""Runs of a scenario: started (queued for the worker), read with progress, cancelled,
compared conversation by conversation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana import personas
from vareon_arcana.calls import Caller
from vareon_arcana.errors import ScenarioRunFinished, ScenarioRunNotFound, ScenarioRunsBusy
from vareon_arcana.scenarios import catalog
from vareon_arcana.scenarios.expectations import expand
from vareon_arcana.scenarios.models import ScenarioResult, ScenarioRun
from vareon_arcana.scenarios.schemas import ScenarioSpec

QUEUED, RUNNING, COMPLETED, CANCELLED = "queued", "running", "completed", "cancelled"
FINISHED = {COMPLETED, CANCELLED}
SAME_WHEN_EQUAL = ("passed", "rule", "provider", "model", "error")
COUNTED = ("cost", "tokens_in", "tokens_out")
TIMES = ("ttft_ms", "total_ms")
"""Shown with their delta in every comparison; never a change by themselves."""


def plan(spec: ScenarioSpec, persona: personas.View | None = None) -> dict[str, Any]:
    """What a run plays: the persona's version of now, every conversation expanded, its
    expectations over the scenario's."""
    conversations = []
    for conversation in spec.conversations:
        expect = spec.expect.model_copy(
            update=conversation.expect.model_dump(exclude_unset=True)
        ).model_dump(mode="json")
        for key, turns in expand(conversation):
            conversations.append(
                {
                    "key": key,
                    "turns": turns,
                    "json_mode": conversation.json_mode,
                    "max_tokens": conversation.max_tokens,
                    "expect": expect,
                }
            )
    pinned = None
    if persona is not None:
        pinned = {"id": str(persona.persona.id), "version": persona.current.version}
    return {
        "persona": spec.persona,
        "persona_version": pinned,
        "category": spec.category,
        "conversations": conversations,
    }


async def start(
    session: AsyncSession,
    caller: Caller,
    scenario_id: uuid.UUID,
    *,
    charge: bool,
    active_limit: int,
) -> ScenarioRun:
    """Queued for the worker (409 scenario-runs-busy past ``active_limit`` queued or running
    runs of the caller's)."""
    scenario = await catalog.owned(session, caller, scenario_id)
    await session.execute(select(func.pg_advisory_xact_lock(_lock_key(caller.user_id))))
    active = await session.scalar(
        select(func.count())
        .select_from(ScenarioRun)
        .where(ScenarioRun.owner_id == caller.user_id, ScenarioRun.status.in_((QUEUED, RUNNING)))
    )
    if (active or 0) >= active_limit:
        raise ScenarioRunsBusy(
            f"{active} of your runs are queued or running; {active_limit} at most"
        )
    spec = ScenarioSpec.model_validate(scenario.spec)
    played = plan(spec, await catalog.check_persona(session, caller, spec))
    run = ScenarioRun(
        id=uuid.uuid4(),
        scenario_id=scenario.id,
        owner_id=caller.user_id,
        roles=sorted(caller.roles),
        verified=caller.verified,
        charge=charge,
        status=QUEUED,
        plan=played,
        total=len(played["conversations"]),
        done=0,
        passed=0,
        failed=0,
        created_at=datetime.now(UTC),
    )
    session.add(run)
    await session.flush()
    return run


async def owned(
    session: AsyncSession,
    caller: Caller,
    scenario_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> ScenarioRun:
    query = select(ScenarioRun).where(
        ScenarioRun.id == run_id,
        ScenarioRun.scenario_id == scenario_id,
        ScenarioRun.owner_id == caller.user_id,
    )
    if for_update:
        query = query.with_for_update()
    run = await session.scalar(query)
    if run is None:
        raise ScenarioRunNotFound(f"no run {run_id} of scenario {scenario_id}")
    return run


async def results(session: AsyncSession, run_id: uuid.UUID) -> list[ScenarioResult]:
    return list(
        await session.scalars(
            select(ScenarioResult)
            .where(ScenarioResult.run_id == run_id)
            .order_by(ScenarioResult.position)
        )
    )


async def recent(
    session: AsyncSession, caller: Caller, scenario_id: uuid.UUID, *, limit: int
) -> list[ScenarioRun]:
    """The scenario's newest runs first."""
    await catalog.owned(session, caller, scenario_id)
    return list(
        await session.scalars(
            select(ScenarioRun)
            .where(ScenarioRun.scenario_id == scenario_id)
            .order_by(ScenarioRun.created_at.desc(), ScenarioRun.id.desc())
            .limit(limit)
        )
    )


async def cancel(
    session: AsyncSession, caller: Caller, scenario_id: uuid.UUID, run_id: uuid.UUID
) -> ScenarioRun:
    """No further conversation starts; one being played ends and is recorded (409
    scenario-run-finished when the run already ended)."""
    run = await owned(session, caller, scenario_id, run_id, for_update=True)
    if run.status in FINISHED:
        raise ScenarioRunFinished(f"run {run_id} is {run.status}")
    run.status = CANCELLED
    run.finished_at = datetime.now(UTC)
    run.lease_until = None
    await session.flush()
    return run


def version_of(run: ScenarioRun) -> int | None:
    """The persona version the run plays (None: a category's scenario)."""
    pinned = run.plan.get("persona_version")
    return int(pinned["version"]) if pinned else None


def _lock_key(user_id: uuid.UUID) -> int:
    """One advisory lock per user: concurrent starts count their active runs one at a time."""
    return int.from_bytes(user_id.bytes[:8], "big", signed=True)


def eta_s(run: ScenarioRun, now: datetime | None = None) -> float | None:
    """Seconds left at the pace so far."""
    if run.status != RUNNING or run.started_at is None or run.done == 0:
        return None
    elapsed = ((now or datetime.now(UTC)) - run.started_at).total_seconds()
    return round(elapsed / run.done * (run.total - run.done), 3)


def _row(result: ScenarioResult) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "rule": result.rule,
        "provider": result.provider,
        "model": result.model,
        "error": result.error,
        "cost": result.cost,
        "tokens_in": result.tokens_in,
        "tokens_out": result.tokens_out,
        "ttft_ms": result.ttft_ms,
        "total_ms": result.total_ms,
        "checks": {c["expectation"]: c for c in result.checks},
    }


def _differences(a: dict[str, Any], b: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    changed = False
    found: dict[str, dict[str, Any]] = {}
    for name in SAME_WHEN_EQUAL:
        if a[name] != b[name]:
            changed, found[name] = True, {"a": a[name], "b": b[name]}
    for name in COUNTED:
        if a[name] != b[name]:
            changed = True
            found[name] = {"a": a[name], "b": b[name], "delta": b[name] - a[name]}
    for name in TIMES:
        delta = None if a[name] is None or b[name] is None else round(b[name] - a[name], 3)
        found[name] = {"a": a[name], "b": b[name], "delta": delta}
    for check in sorted(a["checks"].keys() | b["checks"].keys()):
        was, now = a["checks"].get(check), b["checks"].get(check)
        if (was or {}).get("passed") != (now or {}).get("passed"):
            changed = True
            found[f"check:{check}"] = {
                "a": None if was is None else {"passed": was["passed"], "reason": was["reason"]},
                "b": None if now is None else {"passed": now["passed"], "reason": now["reason"]},
            }
    return changed, found


async def compare(
    session: AsyncSession,
    caller: Caller,
    scenario_id: uuid.UUID,
    a_id: uuid.UUID,
    b_id: uuid.UUID,
) -> dict[str, Any]:
    """Per conversation (by key): same, changed (what differs), added in b, removed from a."""
    a = await owned(session, caller, scenario_id, a_id)
    b = await owned(session, caller, scenario_id, b_id)
    rows_a = {r.key: _row(r) for r in await results(session, a.id)}
    rows_b = {r.key: _row(r) for r in await results(session, b.id)}
    conversations = []
    for key in [*rows_a, *(k for k in rows_b if k not in rows_a)]:
        if key not in rows_b:
            conversations.append({"key": key, "change": "removed", "differences": {}})
        elif key not in rows_a:
            conversations.append({"key": key, "change": "added", "differences": {}})
        else:
            changed, found = _differences(rows_a[key], rows_b[key])
            change = "changed" if changed else "same"
            conversations.append({"key": key, "change": change, "differences": found})
    return {
        "a": a.id,
        "b": b.id,
        "persona_version": {"a": version_of(a), "b": version_of(b)},
        "passed": {"a": a.passed, "b": b.passed},
        "cost": {
            "a": sum(r["cost"] for r in rows_a.values()),
            "b": sum(r["cost"] for r in rows_b.values()),
        },
        "conversations": conversations,
    }
