"""Admission: a paid call runs only when the user's credits cover its maximum cost.

The wallet owns the money; arcana holds a replica of each user's balance. Admission locks the
user's replica row (SELECT ... FOR UPDATE) and, while holding it, compares

    available (replica) - open reservations - usage not yet acknowledged by the wallet

with the call's maximum cost, inserting a reservation when it fits. Concurrent calls of one
user queue on that row lock, so each sees the reservations of those admitted before it.

"Not yet acknowledged" is causal, not a clock comparison: each usage record gets the user's
next sequence number when it is settled (``next_usage_seq``), and every balance the wallet
announces says up to which of those it has charged (``usage_seq``). Usage above that mark is
subtracted; an unrelated change (a grant, a hold, a training charge) moves nothing. Usage
from before the marker existed (seq NULL), or a replica from an older wallet, falls back to
"recorded after the replica's changed_at".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.metrics import after_commit

from vareon_arcana.errors import InsufficientCredits
from vareon_arcana.metrics import ADMISSIONS
from vareon_arcana.models import BalanceReplica, Reservation, UsageCounter, UsageRecord


async def spendable(session: AsyncSession, balance: BalanceReplica) -> int:
    reserved = await session.scalar(
        select(func.coalesce(func.sum(Reservation.amount), 0)).where(
            Reservation.user_id == balance.user_id, Reservation.expires_at > func.now()
        )
    )
    by_clock = UsageRecord.recorded_at > balance.changed_at
    if balance.usage_seq is None:
        pending = by_clock
    else:
        pending = or_(
            UsageRecord.seq > balance.usage_seq, and_(UsageRecord.seq.is_(None), by_clock)
        )
    unacknowledged = await session.scalar(
        select(func.coalesce(func.sum(UsageRecord.cost), 0)).where(
            UsageRecord.user_id == balance.user_id, pending
        )
    )
    return balance.available - int(reserved or 0) - int(unacknowledged or 0)


async def next_usage_seq(session: AsyncSession, user_id: uuid.UUID) -> int:
    """The user's next usage number; the counter row stays locked until commit, so numbers
    follow commit (and outbox) order and the wallet applies them in that order."""
    stmt = insert(UsageCounter).values(user_id=user_id, last_seq=1)
    seq = await session.scalar(
        stmt.on_conflict_do_update(
            index_elements=[UsageCounter.user_id],
            set_={"last_seq": UsageCounter.last_seq + 1},
        ).returning(UsageCounter.last_seq)
    )
    assert seq is not None
    return seq


async def admit(
    session: AsyncSession, user_id: uuid.UUID, amount: int, *, ttl_s: int
) -> uuid.UUID | None:
    """Reserve ``amount`` for one call (None when it is free); 402 when it does not fit."""
    if amount <= 0:
        ADMISSIONS.labels("free").inc()
        return None
    balance = await session.scalar(
        select(BalanceReplica).where(BalanceReplica.user_id == user_id).with_for_update()
    )
    if balance is None:
        ADMISSIONS.labels("no-balance").inc()
        raise InsufficientCredits(
            "no wallet balance is known for you yet", required=amount, available=0
        )
    left = await spendable(session, balance)
    if left < amount:
        ADMISSIONS.labels("insufficient").inc()
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
    after_commit(session, ADMISSIONS.labels("admitted").inc)
    return reservation.id


async def extend(session: AsyncSession, reservation_id: uuid.UUID | None, *, ttl_s: float) -> None:
    """Push a running call's reservation expiry ``ttl_s`` ahead of now."""
    if reservation_id is not None:
        await session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s))
        )


async def release(session: AsyncSession, reservation_id: uuid.UUID | None) -> None:
    if reservation_id is not None:
        await session.execute(delete(Reservation).where(Reservation.id == reservation_id))


async def balance_of(session: AsyncSession, user_id: uuid.UUID) -> tuple[int | None, int | None]:
    """(wallet's available balance as last seen, what arcana would still admit)."""
    balance = await session.get(BalanceReplica, user_id)
    if balance is None:
        return None, None
    return balance.available, await spendable(session, balance)
