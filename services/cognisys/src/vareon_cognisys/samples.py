"""The traffic sample: arcana's routed calls as RoutingSampleRecordedV1 tells them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.routing_samples import sample_values
from vareon_contracts.events.arcana import RoutingSampleRecordedV1
from vareon_routing.dryrun import Sample

from vareon_cognisys.models import ErasedUser, RoutingSample


async def record(session: AsyncSession, event: RoutingSampleRecordedV1) -> None:
    """Keep one sample (a redelivery changes nothing); none for an erased user."""
    erased = await session.scalar(select(exists().where(ErasedUser.user_id == event.user_id)))
    if erased:
        return
    await session.execute(
        insert(RoutingSample).values(**sample_values(event)).on_conflict_do_nothing()
    )


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(RoutingSample).where(RoutingSample.user_id == user_id))
    await session.execute(insert(ErasedUser).values(user_id=user_id).on_conflict_do_nothing())


async def window(
    session: AsyncSession, since: datetime, until: datetime, *, limit: int
) -> tuple[list[Sample], int, bool]:
    """The newest ``limit`` samples recorded in [since, until), their recorded cost, and
    whether more were left out."""
    rows = (
        await session.scalars(
            select(RoutingSample)
            .where(RoutingSample.recorded_at >= since, RoutingSample.recorded_at < until)
            .order_by(RoutingSample.recorded_at.desc(), RoutingSample.id)
            .limit(limit + 1)
        )
    ).all()
    kept = rows[:limit]
    return [as_sample(r) for r in kept], sum(r.cost for r in kept), len(rows) > limit


def as_sample(row: RoutingSample) -> Sample:
    first = (
        (row.first_provider, row.first_model)
        if row.first_provider is not None and row.first_model is not None
        else None
    )
    return Sample(
        at=row.recorded_at,
        category=row.category,
        roles=frozenset(row.roles),
        length=row.length,
        terms=frozenset(row.terms),
        text_complete=row.text_complete,
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        first=first,
        fell_back=row.fell_back,
    )


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RoutingSample)) or 0)
