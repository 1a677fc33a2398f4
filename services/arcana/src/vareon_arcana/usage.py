"""Usage views: what was charged, grouped by UTC day, model and API key.

The rows are arcana's usage records, the very ones each ``UsageRecordedV1`` carries and the
wallet debits; a call made with a key is joined to its key through ``api_key_spend``. Free
calls (cost 0) record no usage and appear nowhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana.models import ApiKeyReplica, ApiKeySpend, UsageRecord


@dataclass(frozen=True)
class UsageRow:
    day: date
    provider: str
    model: str
    key_id: uuid.UUID | None
    key_name: str | None
    key_prefix: str | None
    requests: int
    tokens_in: int
    tokens_out: int
    credits: int


async def grouped(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    since: datetime,
    until: datetime,
    key_id: uuid.UUID | None = None,
) -> list[UsageRow]:
    day = cast(func.timezone("UTC", UsageRecord.recorded_at), Date).label("day")
    query = (
        select(
            day,
            UsageRecord.provider,
            UsageRecord.model,
            ApiKeySpend.key_id,
            ApiKeyReplica.name,
            ApiKeyReplica.prefix,
            func.count(),
            func.sum(UsageRecord.tokens_in),
            func.sum(UsageRecord.tokens_out),
            func.sum(UsageRecord.cost),
        )
        .select_from(UsageRecord)
        .outerjoin(ApiKeySpend, ApiKeySpend.usage_id == UsageRecord.id)
        .outerjoin(ApiKeyReplica, ApiKeyReplica.key_id == ApiKeySpend.key_id)
        .where(
            UsageRecord.user_id == user_id,
            UsageRecord.recorded_at >= since,
            UsageRecord.recorded_at < until,
        )
        .group_by(
            day,
            UsageRecord.provider,
            UsageRecord.model,
            ApiKeySpend.key_id,
            ApiKeyReplica.name,
            ApiKeyReplica.prefix,
        )
        .order_by(day, UsageRecord.model, ApiKeySpend.key_id.nulls_first())
    )
    if key_id is not None:
        query = query.where(ApiKeySpend.key_id == key_id)
    rows = await session.execute(query)
    return [
        UsageRow(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), int(r[8]), int(r[9]))
        for r in rows
    ]
