"""Use cases on routing rules: each takes the request's session and only flushes.

Every change bumps the rule's revision and stages RoutingRuleChangedV1 with the full state
in the same transaction, so the topic alone rebuilds every rule.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import vareon_routing as routing
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor, encode_cursor
from vareon_contracts.events.cognisys import ModelTarget, RoutingRuleChangedV1, RuleConditions

from vareon_cognisys import terms
from vareon_cognisys.errors import (
    DefaultRuleProtected,
    InvalidRoutingRule,
    NoRoutingRule,
    RuleNotFound,
)
from vareon_cognisys.models import OUTBOX, RoutingRule
from vareon_cognisys.schemas import RuleIn

EDITABLE = ("name", "priority", "enabled", "conditions", "targets")


def _now() -> datetime:
    return datetime.now(UTC)


def _stored(field: str, value: Any) -> Any:
    """The JSON-ready form a field is kept in (pydantic models become plain data)."""
    if field == "conditions":
        return value.model_dump(mode="json")
    if field == "targets":
        return [t.model_dump(mode="json") for t in value]
    return value


def as_rule(row: RoutingRule) -> routing.RoutingRule:
    return routing.RoutingRule(
        rule_id=row.id,
        name=row.name,
        priority=row.priority,
        conditions=RuleConditions.model_validate(row.conditions),
        targets=tuple(ModelTarget.model_validate(t) for t in row.targets),
        enabled=row.enabled,
        is_default=row.is_default,
        revision=row.revision,
    )


def changed_event(row: RoutingRule, *, deleted: bool = False) -> RoutingRuleChangedV1:
    return RoutingRuleChangedV1(
        rule_id=row.id,
        revision=row.revision,
        name=row.name,
        priority=row.priority,
        enabled=row.enabled,
        is_default=row.is_default,
        conditions=RuleConditions.model_validate(row.conditions),
        targets=[ModelTarget.model_validate(t) for t in row.targets],
        deleted=deleted,
        changed_at=row.updated_at,
    )


def _check(row: RoutingRule) -> None:
    errors: list[str] = []
    if row.is_default:
        if not row.enabled:
            errors.append("enabled: the default rule cannot be disabled")
        if RuleConditions.model_validate(row.conditions) != RuleConditions():
            errors.append("conditions: the default rule has none (it takes what no rule took)")
    try:
        as_rule(row)
    except routing.InvalidRule as exc:
        errors += exc.errors
    if errors:
        raise InvalidRoutingRule(errors)


async def create_rule(session: AsyncSession, data: RuleIn) -> RoutingRule:
    now = _now()
    row = RoutingRule(
        **{f: _stored(f, getattr(data, f)) for f in EDITABLE},
        is_default=False,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    _check(row)
    session.add(row)
    await session.flush()
    await OUTBOX.publish(session, changed_event(row))
    await _sync_terms(session, now)
    return row


async def get_rule(
    session: AsyncSession, rule_id: UUID, *, for_update: bool = False
) -> RoutingRule:
    query = select(RoutingRule).where(RoutingRule.id == rule_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = await session.scalar(query)
    if row is None:
        raise RuleNotFound(f"no routing rule {rule_id}")
    return row


async def update_rule(session: AsyncSession, rule_id: UUID, changes: dict[str, Any]) -> RoutingRule:
    """Apply ``changes`` (a subset of EDITABLE); a change to nothing keeps the revision."""
    row = await get_rule(session, rule_id, for_update=True)
    new = {f: _stored(f, v) for f, v in changes.items()}
    if all(getattr(row, f) == v for f, v in new.items()):
        return row
    for field, value in new.items():
        setattr(row, field, value)
    _check(row)
    row.revision += 1
    row.updated_at = _now()
    await session.flush()
    await OUTBOX.publish(session, changed_event(row))
    await _sync_terms(session, row.updated_at)
    return row


async def replace_rule(session: AsyncSession, rule_id: UUID, data: RuleIn) -> RoutingRule:
    return await update_rule(session, rule_id, {f: getattr(data, f) for f in EDITABLE})


async def delete_rule(session: AsyncSession, rule_id: UUID) -> None:
    row = await get_rule(session, rule_id, for_update=True)
    if row.is_default:
        raise DefaultRuleProtected("the default rule can be edited but never deleted")
    row.revision += 1
    row.updated_at = _now()
    event = changed_event(row, deleted=True)
    await session.delete(row)
    await session.flush()
    await OUTBOX.publish(session, event)
    await _sync_terms(session, row.updated_at)


async def all_rules(session: AsyncSession) -> list[routing.RoutingRule]:
    return [as_rule(row) for row in (await session.scalars(select(RoutingRule))).all()]


async def _sync_terms(session: AsyncSession, now: datetime) -> None:
    await terms.sync(session, all_rules, now)


async def list_rules(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[RoutingRule], str | None]:
    """Rules in evaluation order: by priority (highest first), then id; the default last."""
    r = RoutingRule
    query = select(r)
    if (key := decode_cursor(cursor, bool, int, UUID)) is not None:
        is_default, priority, rule_id = key
        after = [
            and_(
                r.is_default == is_default,
                or_(r.priority < priority, and_(r.priority == priority, r.id > rule_id)),
            )
        ]
        if not is_default:
            after.append(r.is_default.is_(True))  # the default comes after every other rule
        query = query.where(or_(*after))
    rows = list(
        (
            await session.scalars(
                query.order_by(r.is_default, r.priority.desc(), r.id).limit(limit + 1)
            )
        ).all()
    )
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor(last.is_default, last.priority, last.id) if last else None
    return rows[:limit], next_cursor


async def evaluate(session: AsyncSession, request: routing.RoutingRequest) -> routing.Decision:
    """Which rule and targets ``request`` would get now, and why (nothing is changed)."""
    rules = await all_rules(session)
    try:
        # Patterns may run up to their timeout each: keep them off the event loop.
        return await asyncio.to_thread(routing.choose, rules, request)
    except routing.NoRoute as exc:
        raise NoRoutingRule(str(exc)) from exc
