"""Event handlers: identity's user deletion erases that user's data here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_contracts import Envelope, topics
from vareon_contracts.events.identity import UserDeletedV1

from vareon_neosyntis.erasure import erase_user
from vareon_neosyntis.storage import Storage


def build_consumers(storage: Storage) -> list[EventConsumer]:
    users = EventConsumer(name="neosyntis.users", topics=(topics.IDENTITY_USER,))

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await erase_user(session, storage, event.user_id)

    return [users]
