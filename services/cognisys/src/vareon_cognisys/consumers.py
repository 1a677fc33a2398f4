"""Event handlers: arcana's routing samples kept for dry-runs; identity's erasures remove them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_contracts import Envelope, topics
from vareon_contracts.events.arcana import RoutingSampleRecordedV1
from vareon_contracts.events.identity import UserDeletedV1

from vareon_cognisys import samples


def build_consumers() -> list[EventConsumer]:
    recorded = EventConsumer(
        name="cognisys.routing-samples", topics=(topics.ARCANA_ROUTING_SAMPLE,)
    )
    users = EventConsumer(name="cognisys.users", topics=(topics.IDENTITY_USER,))

    @recorded.on(RoutingSampleRecordedV1)
    async def sample_recorded(
        session: AsyncSession, event: RoutingSampleRecordedV1, envelope: Envelope
    ) -> None:
        await samples.record(session, event)

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await samples.erase_user(session, event.user_id)

    return [recorded, users]
