"""Local replicas of other services' state, kept from their events (idempotent, monotonic)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.cognisys import RoutingRuleChangedV1
from vareon_contracts.events.wallet import BalanceChangedV1
from vareon_routing import RoutingRule

from vareon_arcana.models import BalanceReplica, RoutingRuleReplica


async def apply_rule(session: AsyncSession, event: RoutingRuleChangedV1) -> None:
    """Keep the highest revision per rule; a tombstone stays so older revisions stay dead."""
    stmt = insert(RoutingRuleReplica).values(
        rule_id=event.rule_id,
        revision=event.revision,
        deleted=event.deleted,
        payload=event.model_dump(mode="json"),
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RoutingRuleReplica.rule_id],
            set_={
                "revision": stmt.excluded.revision,
                "deleted": stmt.excluded.deleted,
                "payload": stmt.excluded.payload,
            },
            where=RoutingRuleReplica.revision < stmt.excluded.revision,
        )
    )


async def rules(session: AsyncSession) -> list[RoutingRule]:
    payloads = await session.scalars(
        select(RoutingRuleReplica.payload).where(RoutingRuleReplica.deleted.is_(False))
    )
    return [RoutingRule.from_event(RoutingRuleChangedV1.model_validate(p)) for p in payloads]


async def apply_balance(
    session: AsyncSession, event: BalanceChangedV1, event_time: datetime
) -> None:
    """The latest balance per user by the wallet's sequence: never goes backwards.

    The wallet assigns ``seq`` under the account lock, so it is the order in which changes
    were applied; ``changed_at`` is a transaction's start and may disagree. Events of older
    wallets (no seq) count as 0 and are ordered among themselves by (changed_at, time).
    """
    available = event.available if event.available is not None else event.balance - event.pending
    stmt = insert(BalanceReplica).values(
        user_id=event.user_id,
        balance=event.balance,
        available=available,
        changed_at=event.changed_at,
        event_time=event_time,
        seq=event.seq,
        usage_seq=event.arcana_usage_seq,
    )
    new, old = stmt.excluded, BalanceReplica
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[BalanceReplica.user_id],
            set_={
                "balance": new.balance,
                "available": new.available,
                "changed_at": new.changed_at,
                "event_time": new.event_time,
                "seq": new.seq,
                "usage_seq": new.usage_seq,
            },
            where=tuple_(func.coalesce(old.seq, 0), old.changed_at, old.event_time)
            < tuple_(func.coalesce(new.seq, 0), new.changed_at, new.event_time),
        )
    )


async def forget_balance(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(BalanceReplica).where(BalanceReplica.user_id == user_id))


async def rule_count(session: AsyncSession) -> int:
    """Live rules in the replica (tombstones not counted)."""
    count = await session.scalar(
        select(func.count())
        .select_from(RoutingRuleReplica)
        .where(RoutingRuleReplica.deleted.is_(False))
    )
    return int(count or 0)
