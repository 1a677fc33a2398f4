"""Event handlers: identity's user events open and close wallets; usage is charged (arcana's
AI calls, neosyntis's training compute)."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_chassis.messaging.consumer import DeadLetter
from vareon_chassis.messaging.replay import Refused
from vareon_contracts import Envelope, topics
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.identity import UserDeletedV1, UserRegisteredV1
from vareon_contracts.events.neosyntis import TrainingUsageRecordedV1, training_charge_reason

from vareon_wallet import accounts, billing, wallets
from vareon_wallet.ledger import TransferKind
from vareon_wallet.models import Account, Entry, Hold, Transfer

FROM_EVENTS = (TransferKind.SIGNUP_BONUS, TransferKind.USAGE, TransferKind.CLOSURE)


async def reset_ledger(session: AsyncSession) -> None:
    """Back to the migrated state before ``wallet.users`` is rebuilt by replay.

    The ledger is one projection of two topics: rebuild ``wallet.usage`` right after
    ``wallet.users``. Grants and holds come from HTTP, not events, so no replay can bring
    them back: refused while there are any.
    """
    by_http = await session.scalar(
        select(func.count()).select_from(Transfer).where(Transfer.kind.not_in(FROM_EVENTS))
    )
    holds = await session.scalar(select(func.count()).select_from(Hold))
    if by_http or holds:
        raise Refused(
            f"the ledger holds {by_http} grant/capture transfers and {holds} holds that no "
            "event carries: a rebuild would erase them"
        )
    for model in (Entry, Transfer):
        await session.execute(delete(model))
    await session.execute(delete(Account).where(Account.kind == "user"))
    await session.execute(update(Account).values(balance=0, pending=0))


def build_consumers(policy: accounts.Policy) -> list[EventConsumer]:
    users = EventConsumer(name="wallet.users", topics=(topics.IDENTITY_USER,), reset=reset_ledger)
    usage = EventConsumer(
        name="wallet.usage", topics=(topics.ARCANA_USAGE, topics.NEOSYNTIS_TRAINING_JOB)
    )

    @users.on(UserRegisteredV1)
    async def user_registered(
        session: AsyncSession, event: UserRegisteredV1, envelope: Envelope
    ) -> None:
        await wallets.open_wallet(session, policy, event.user_id)

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await wallets.close_wallet(session, policy, event.user_id)

    async def charge(
        session: AsyncSession,
        event: UsageRecordedV1 | TrainingUsageRecordedV1,
        envelope: Envelope,
        reason: str,
    ) -> None:
        if event.cost < 0:
            raise DeadLetter(f"negative cost {event.cost} for usage {event.usage_id}")
        await billing.charge_usage(
            session,
            policy,
            user_id=event.user_id,
            cost=event.cost,
            key=f"usage:{envelope.id}",
            reason=reason,
            reference=str(event.usage_id),
            arcana_usage_seq=event.seq if isinstance(event, UsageRecordedV1) else None,
        )

    @usage.on(UsageRecordedV1)
    async def usage_recorded(
        session: AsyncSession, event: UsageRecordedV1, envelope: Envelope
    ) -> None:
        await charge(session, event, envelope, f"{event.provider}/{event.model}")

    @usage.on(TrainingUsageRecordedV1)
    async def training_usage_recorded(
        session: AsyncSession, event: TrainingUsageRecordedV1, envelope: Envelope
    ) -> None:
        await charge(session, event, envelope, training_charge_reason(event.job_id))

    return [users, usage]
