"""Event handlers: identity's user events open and close wallets; arcana's usage is charged."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_chassis.messaging.consumer import DeadLetter
from vareon_contracts import Envelope, topics
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.identity import UserDeletedV1, UserRegisteredV1

from vareon_wallet import service


def build_consumers(policy: service.Policy) -> list[EventConsumer]:
    users = EventConsumer(name="wallet.users", topics=(topics.IDENTITY_USER,))
    usage = EventConsumer(name="wallet.usage", topics=(topics.ARCANA_USAGE,))

    @users.on(UserRegisteredV1)
    async def user_registered(
        session: AsyncSession, event: UserRegisteredV1, envelope: Envelope
    ) -> None:
        await service.open_wallet(session, policy, event.user_id)

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await service.close_wallet(session, policy, event.user_id)

    @usage.on(UsageRecordedV1)
    async def usage_recorded(
        session: AsyncSession, event: UsageRecordedV1, envelope: Envelope
    ) -> None:
        if event.cost < 0:
            raise DeadLetter(f"negative cost {event.cost} for usage {event.usage_id}")
        await service.charge_usage(
            session,
            policy,
            user_id=event.user_id,
            cost=event.cost,
            key=f"usage:{envelope.id}",
            reason=f"{event.provider}/{event.model}",
            reference=str(event.usage_id),
        )

    return [users, usage]
