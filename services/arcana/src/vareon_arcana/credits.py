"""Admission: a paid call runs only when the user's credits cover its maximum cost.

The wallet owns the money; arcana holds a replica of each user's balance. Admission locks the
user's replica row (SELECT ... FOR UPDATE) and, while holding it, compares

    available (replica) - open reservations - usage not yet reflected in the replica

with the call's maximum cost, inserting a reservation when it fits. Concurrent calls of one
user queue on that row lock, so each sees the reservations of those admitted before it.
"Not yet reflected" is usage recorded after the replica's ``changed_at``: arcana published it
but the wallet's resulting BalanceChangedV1 has not arrived yet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana.errors import InsufficientCredits
from vareon_arcana.models import BalanceReplica, Reservation, UsageRecord


async def spendable(session: AsyncSession, balance: BalanceReplica) -> int:
    reserved = await session.scalar(
        select(func.coalesce(func.sum(Reservation.amount), 0)).where(
            Reservation.user_id == balance.user_id, Reservation.expires_at > func.now()
        )
    )
    unreflected = await session.scalar(
        select(func.coalesce(func.sum(UsageRecord.cost), 0)).where(
            UsageRecord.user_id == balance.user_id, UsageRecord.recorded_at > balance.changed_at
        )
    )
    return balance.available - int(reserved or 0) - int(unreflected or 0)


async def admit(
    session: AsyncSession, user_id: uuid.UUID, amount: int, *, ttl_s: int
) -> uuid.UUID | None:
    """Reserve ``amount`` for one call (None when it is free); 402 when it does not fit."""
    if amount <= 0:
        return None
    balance = await session.scalar(
        select(BalanceReplica).where(BalanceReplica.user_id == user_id).with_for_update()
    )
    if balance is None:
        raise InsufficientCredits(
            "no wallet balance is known for you yet", required=amount, available=0
        )
    left = await spendable(session, balance)
    if left < amount:
        raise InsufficientCredits(
            f"this call may cost up to {amount} micro-credits; {max(left, 0)} are available",
            required=amount,
            available=max(left, 0),
        )
    reservation = Reservation(
        id=uuid.uuid4(),
        user_id=user_id,
        amount=amount,
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
    )
    session.add(reservation)
    await session.flush()
    return reservation.id


async def release(session: AsyncSession, reservation_id: uuid.UUID | None) -> None:
    if reservation_id is not None:
        await session.execute(delete(Reservation).where(Reservation.id == reservation_id))


async def balance_of(session: AsyncSession, user_id: uuid.UUID) -> tuple[int | None, int | None]:
    """(wallet's available balance as last seen, what arcana would still admit)."""
    balance = await session.get(BalanceReplica, user_id)
    if balance is None:
        return None, None
    return balance.available, await spendable(session, balance)
