"""Dry-run of proposed rule changes over the recorded traffic: nothing is changed or published."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import vareon_routing as routing
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.cognisys import ModelTarget, RuleConditions
from vareon_routing.dryrun import Report, Side, project

from vareon_cognisys import samples, service, terms
from vareon_cognisys.errors import InvalidRoutingRule
from vareon_cognisys.schemas import (
    Change,
    CreateChange,
    DeleteChange,
    DryRunIn,
    DryRunOut,
    FallbackRate,
    RuleDryRun,
    SideOut,
)

MAX_SAMPLES = 50_000
"""Calls replayed per dry-run (the newest in the window); the answer says when it cut."""


def apply(rules: list[routing.RoutingRule], changes: list[Change]) -> list[routing.RoutingRule]:
    """The rules as they would be after ``changes``, checked as the real endpoints check them."""
    book = {r.rule_id: r for r in rules}
    for index, change in enumerate(changes):
        where = f"changes[{index}]"
        loc: list[str | int] = ["body", "changes", index]
        try:
            if isinstance(change, CreateChange):
                new = change.rule
                rule = routing.RoutingRule(
                    rule_id=uuid.uuid4(),
                    name=new.name,
                    priority=new.priority,
                    conditions=RuleConditions.model_validate(new.conditions.model_dump()),
                    targets=tuple(ModelTarget.model_validate(t.model_dump()) for t in new.targets),
                    enabled=new.enabled,
                )
                book[rule.rule_id] = rule
                continue
            old = book.get(change.rule_id)
            if old is None:
                raise InvalidRoutingRule([f"{where}: no rule {change.rule_id}"], loc)
            if isinstance(change, DeleteChange):
                if old.is_default:
                    raise InvalidRoutingRule([f"{where}: the default rule is never deleted"], loc)
                del book[old.rule_id]
                continue
            patch = change.changes.changes()
            if old.is_default and (
                patch.get("enabled") is False
                or ("conditions" in patch and patch["conditions"] != RuleConditions())
            ):
                raise InvalidRoutingRule(
                    [f"{where}: the default rule stays enabled and has no conditions"], loc
                )
            if "conditions" in patch:
                patch["conditions"] = RuleConditions.model_validate(
                    patch["conditions"].model_dump()
                )
            if "targets" in patch:
                patch["targets"] = tuple(
                    ModelTarget.model_validate(t.model_dump()) for t in patch["targets"]
                )
            book[old.rule_id] = dataclasses.replace(old, **patch, revision=old.revision + 1)
        except routing.InvalidRule as exc:
            raise InvalidRoutingRule([f"{where}: {e}" for e in exc.errors], loc) from exc
    return list(book.values())


async def dry_run(session: AsyncSession, body: DryRunIn) -> DryRunOut:
    until = body.until or datetime.now(UTC)
    since = until - timedelta(days=body.days)
    current = await service.all_rules(session)
    proposed = apply(current, body.changes)
    calls, recorded_cost, truncated = await samples.window(session, since, until, limit=MAX_SAMPLES)
    spans = await terms.spans(session)
    report = await asyncio.to_thread(
        project, current, proposed, calls, spans.known, recorded_cost=recorded_cost
    )
    return render(report, since, until, truncated)


def render(report: Report, since: datetime, until: datetime, truncated: bool) -> DryRunOut:
    return DryRunOut(
        since=since,
        until=until,
        calls=report.calls,
        truncated=truncated,
        moved=report.moved,
        undetermined=report.undetermined,
        recorded_cost=report.recorded_cost,
        current=_side(report.current),
        proposed=_side(report.proposed),
        cost_difference=report.proposed.cost - report.current.cost,
        rules=[
            RuleDryRun(
                rule_id=r.rule_id,
                name=r.name,
                change=r.change,
                current=_side(r.current),
                proposed=_side(r.proposed),
                moved_in=r.moved_in,
                moved_out=r.moved_out,
                retargeted=r.retargeted,
            )
            for r in report.rules
        ],
        fallback_rates=[
            FallbackRate(provider=p, model=m, tried_first=tried, fell_back=fell)
            for (p, m), (tried, fell) in sorted(report.fallback_rates.items())
        ],
    )


def _side(side: Side) -> SideOut:
    return SideOut(**dataclasses.asdict(side))
