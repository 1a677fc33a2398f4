"""Admission: a training job is accepted only when the user's credits cover its budget.

The wallet owns the money; neosyntis keeps a replica of each user's balance from
``BalanceChangedV1`` (the highest wallet ``seq`` wins, as in arcana). Admission locks the
user's replica row and, while holding it, compares

    available (replica) - held

with the job's budget, where ``held`` sums, over the user's admitted jobs, what the wallet
may still charge for them and has not yet included in the replica:

    (budget if the job is unfinished else its final cost) - what the wallet charged for it

"What the wallet charged" is causal, not a clock: every wallet usage transfer for a job is
announced in a balance event (kind ``usage``, reason ``training job <id>``), recorded here
once per transfer in ``training_charges``. That event's ``seq`` is at most the replica's, so
each recorded charge is already inside ``available``. A job's charges never exceed its cost,
and its cost never exceeds its budget, so no job is counted below zero.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import case, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.neosyntis import charged_training_job
from vareon_contracts.events.wallet import BalanceChangedV1

from vareon_neosyntis.errors import InsufficientCredits
from vareon_neosyntis.training.models import BalanceReplica, TrainingCharge, TrainingJob
from vareon_neosyntis.training.states import TERMINAL


async def apply_balance(
    session: AsyncSession, event: BalanceChangedV1, event_time: datetime
) -> None:
    available = event.available if event.available is not None else event.balance - event.pending
    stmt = insert(BalanceReplica).values(
        user_id=event.user_id,
        balance=event.balance,
        available=available,
        seq=event.seq,
        changed_at=event.changed_at,
        event_time=event_time,
    )
    new, old = stmt.excluded, BalanceReplica
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[BalanceReplica.user_id],
            set_={
                "balance": new.balance,
                "available": new.available,
                "seq": new.seq,
                "changed_at": new.changed_at,
                "event_time": new.event_time,
            },
            where=tuple_(func.coalesce(old.seq, 0), old.changed_at, old.event_time)
            < tuple_(func.coalesce(new.seq, 0), new.changed_at, new.event_time),
        )
    )
    job_id = charged_training_job(event.kind, event.reason)
    if job_id is not None and event.change < 0:
        await session.execute(
            insert(TrainingCharge)
            .values(
                transfer_id=event.transfer_id,
                user_id=event.user_id,
                job_id=job_id,
                amount=-event.change,
            )
            .on_conflict_do_nothing(index_elements=[TrainingCharge.transfer_id])
        )


async def held(session: AsyncSession, user_id: uuid.UUID) -> int:
    """What the user's admitted jobs may still cost beyond what the replica includes."""
    owed = await session.scalar(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (TrainingJob.state.in_(list(TERMINAL)), TrainingJob.cost_micro),
                        else_=TrainingJob.budget_micro,
                    )
                ),
                0,
            )
        ).where(TrainingJob.owner_id == user_id, TrainingJob.admitted.is_(True))
    )
    charged = await session.scalar(
        select(func.coalesce(func.sum(TrainingCharge.amount), 0)).where(
            TrainingCharge.user_id == user_id,
            TrainingCharge.job_id.in_(
                select(TrainingJob.id).where(
                    TrainingJob.owner_id == user_id, TrainingJob.admitted.is_(True)
                )
            ),
        )
    )
    return int(owed or 0) - int(charged or 0)


async def admit(session: AsyncSession, user_id: uuid.UUID, budget: int) -> None:
    """402 unless ``budget`` fits; the caller then inserts the job (admitted) in the same
    transaction, so the row lock makes the next admission of this user count it."""
    balance = await session.scalar(
        select(BalanceReplica).where(BalanceReplica.user_id == user_id).with_for_update()
    )
    if balance is None:
        raise InsufficientCredits(
            "not enough credits: no wallet balance is known for you yet",
            required=budget,
            available=0,
        )
    left = balance.available - await held(session, user_id)
    if left < budget:
        raise InsufficientCredits(
            f"not enough credits: this training job may cost up to {budget} micro-credits; "
            f"{max(left, 0)} are available",
            required=budget,
            available=max(left, 0),
        )


async def forget_balance(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(BalanceReplica).where(BalanceReplica.user_id == user_id))
    await session.execute(delete(TrainingCharge).where(TrainingCharge.user_id == user_id))
