"""Routing samples: what each routed call's route was chosen from, kept for rule dry-runs.

Recorded at settlement with the call's tokens and cost, stored here and published as
``RoutingSampleRecordedV1`` for cognisys (which replays them under proposed rules). The text
is not kept: only which of the rules' keywords and patterns it contained (``Vocabulary``).
A user's samples go with the user; a call settling after the erasure records none.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.routing_samples import sample_values
from vareon_contracts.events.arcana import RoutingSampleRecordedV1
from vareon_contracts.events.cognisys import ModelTarget
from vareon_routing import Decision, NoRoute, RoutingRequest, RoutingRule, choose
from vareon_routing.samples import Vocabulary

from vareon_arcana.models import OUTBOX, ErasedUser, RoutingSample


@dataclass(frozen=True)
class RoutingInputs:
    at: datetime
    category: str | None
    roles: frozenset[str]
    length: int
    terms: frozenset[str]
    complete: bool
    rule_id: uuid.UUID | None


def choose_and_observe(
    rules: Sequence[RoutingRule], request: RoutingRequest, budget_s: float
) -> tuple[Decision | None, RoutingInputs]:
    """The route (None: no rule matched) and the sample's inputs. Blocking: one thread hop
    for both; the vocabulary search has its own budget of the same size."""
    try:
        decision: Decision | None = choose(rules, request, budget_s=budget_s)
    except NoRoute:
        decision = None
    seen = Vocabulary(rules).observe(request.text, budget_s=budget_s)
    return decision, RoutingInputs(
        at=request.now,
        category=request.category,
        roles=request.roles,
        length=len(request.text),
        terms=seen.terms,
        complete=seen.complete,
        rule_id=decision.rule.rule_id if decision else None,
    )


async def _lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Recording and erasing one user's samples take turns (else a sample committed beside
    an erasure would survive it)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:user_id, 20))"),
        {"user_id": str(user_id)},
    )


async def record(
    session: AsyncSession,
    user_id: uuid.UUID,
    inputs: RoutingInputs,
    targets: Sequence[ModelTarget],
    answered: ModelTarget | None,
    tokens_in: int,
    tokens_out: int,
    cost: int,
) -> None:
    """One sample for a settled call (``answered`` None: no target answered). Only flushes."""
    await _lock_user(session, user_id)
    if await session.scalar(select(exists().where(ErasedUser.user_id == user_id))):
        return
    first = targets[0] if targets else None
    event = RoutingSampleRecordedV1(
        sample_id=uuid.uuid4(),
        user_id=user_id,
        recorded_at=inputs.at,
        category=inputs.category,
        roles=sorted(inputs.roles),
        length=inputs.length,
        terms=sorted(inputs.terms),
        text_complete=inputs.complete,
        rule_id=inputs.rule_id,
        first_provider=first.provider if first else None,
        first_model=first.model if first else None,
        provider=answered.provider if answered else None,
        model=answered.model if answered else None,
        fell_back=answered is None or answered != first,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=cost,
    )
    session.add(RoutingSample(**sample_values(event)))
    await session.flush()
    await OUTBOX.publish(session, event)


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await _lock_user(session, user_id)
    await session.execute(delete(RoutingSample).where(RoutingSample.user_id == user_id))
    await session.execute(insert(ErasedUser).values(user_id=user_id).on_conflict_do_nothing())


async def count(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(RoutingSample).where(RoutingSample.user_id == user_id)
    return int(await session.scalar(query) or 0)
