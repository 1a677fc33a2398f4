"""A key's own limits, admitted atomically like the wallet's balance: budgets and rpm.

Admission locks the key's replica row (SELECT ... FOR UPDATE) and, holding it, compares

    spent by the key (settled calls) + held by its open reservations + this call's maximum

with the key's total budget and its budget for the current UTC day or month; it then counts
the request in the key's minute (the rpm limit). Concurrent calls on one key queue on that
row, so each sees the holds of those admitted before it: of 20 parallel calls whose budget
covers one, exactly one is admitted, whatever the wallet balance. The hold is a slice of the
wallet reservation (same id, deleted with it), so settling or expiry frees both at once.

Lock order is key row, then balance row (credits.admit); calls without a key take only the
second, so the two never wait on each other in opposite orders.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.errors import PROBLEM_BASE, DomainError
from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana.api_keys import InvalidApiKey, VerifiedKey
from vareon_arcana.errors import TooManyRequests

if TYPE_CHECKING:
    from vareon_arcana.calls.admission import Turn
from vareon_arcana.models import ApiKeyHold, ApiKeyMinute, ApiKeyReplica, ApiKeySpend, Reservation


class KeyBudgetExceeded(DomainError):
    type = PROBLEM_BASE + "api-key-budget-exceeded"
    title = "The API key's budget is spent"
    status = 402


def period_start(period: str, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if period == "month" else day


async def _spent(session: AsyncSession, key_id: uuid.UUID, since: datetime | None) -> int:
    query = select(func.coalesce(func.sum(ApiKeySpend.cost), 0)).where(ApiKeySpend.key_id == key_id)
    if since is not None:
        query = query.where(ApiKeySpend.recorded_at >= since)
    return int(await session.scalar(query) or 0)


async def _held(session: AsyncSession, key_id: uuid.UUID) -> int:
    held = await session.scalar(
        select(func.coalesce(func.sum(ApiKeyHold.amount), 0))
        .join(Reservation, Reservation.id == ApiKeyHold.reservation_id)
        .where(ApiKeyHold.key_id == key_id, Reservation.expires_at > func.now())
    )
    return int(held or 0)


async def admit(session: AsyncSession, key: VerifiedKey, amount: int) -> None:
    """Lock the key and check it may make this call (402 budget, 429 rpm). Only flushes."""
    row = await session.scalar(
        select(ApiKeyReplica).where(ApiKeyReplica.key_id == key.key_id).with_for_update()
    )
    if row is None or row.revoked_at is not None:  # revoked since it was verified
        raise InvalidApiKey("this API key was revoked")
    now = datetime.now(UTC)
    if amount > 0 and (row.budget_total is not None or row.budget_per_period is not None):
        held = await _held(session, row.key_id)
        limits: list[tuple[str, int, datetime | None]] = []
        if row.budget_total is not None:
            limits.append(("total", row.budget_total, None))
        if row.budget_per_period is not None and row.budget_period is not None:
            limits.append(
                (row.budget_period, row.budget_per_period, period_start(row.budget_period, now))
            )
        for name, budget, since in limits:
            left = budget - await _spent(session, row.key_id, since) - held
            if left < amount:
                raise KeyBudgetExceeded(
                    f"this call may cost up to {amount} micro-credits; the key's {name} budget "
                    f"has {max(left, 0)} left",
                    required=amount,
                    available=max(left, 0),
                    budget=name,
                )
    if row.rpm_limit is not None:
        minute = now.replace(second=0, microsecond=0)
        await session.execute(
            delete(ApiKeyMinute).where(
                ApiKeyMinute.key_id == row.key_id, ApiKeyMinute.minute < minute
            )
        )
        stmt = insert(ApiKeyMinute).values(key_id=row.key_id, minute=minute, count=1)
        count = await session.scalar(
            stmt.on_conflict_do_update(
                index_elements=[ApiKeyMinute.key_id, ApiKeyMinute.minute],
                set_={"count": ApiKeyMinute.count + 1},
            ).returning(ApiKeyMinute.count)
        )
        if (count or 0) > row.rpm_limit:
            wait = (minute + timedelta(minutes=1) - now).total_seconds()
            raise TooManyRequests(max(1, int(wait) + 1))


async def hold(session: AsyncSession, key_id: uuid.UUID, reservation_id: uuid.UUID | None) -> None:
    """The admitted call's wallet reservation counts against the key until it is settled."""
    if reservation_id is None:
        return
    reservation = await session.get(Reservation, reservation_id)
    if reservation is not None and reservation.amount > 0:
        session.add(
            ApiKeyHold(reservation_id=reservation_id, key_id=key_id, amount=reservation.amount)
        )
        await session.flush()


async def record_spend(
    session: AsyncSession,
    turn: Turn,
    target: ModelTarget,
    usage_id: uuid.UUID | None,
    tokens_in: int,
    tokens_out: int,
    cost: int,
) -> None:
    """In the settling transaction: the key's share of what was recorded (and charged)."""
    assert turn.caller.api_key_id is not None
    session.add(
        ApiKeySpend(
            id=uuid.uuid4(),
            key_id=turn.caller.api_key_id,
            user_id=turn.caller.user_id,
            usage_id=usage_id,
            provider=target.provider,
            model=target.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
        )
    )
    await session.flush()
