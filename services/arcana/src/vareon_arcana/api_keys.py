"""identity's API keys, replicated here from their events, and checking a presented key.

A ``vk-`` bearer is checked in arcana, not at the gateway and not by a call to identity: arcana
is the only service a key opens (the OpenAI-compatible API), it holds the replica, and the
same row is the key's admission lock (key_budgets.py). A revocation stops the key once the
event is consumed here, typically within a second (docs/architecture.md D30).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.api_keys import hash_api_key
from vareon_chassis.errors import Forbidden, Unauthorized
from vareon_chassis.messaging import EventConsumer
from vareon_contracts import Envelope, topics
from vareon_contracts.events.identity import (
    ApiKeyCreatedV1,
    ApiKeyRenamedV1,
    ApiKeyRevokedV1,
    UserDeletedV1,
    UserUpdatedV1,
)

from vareon_arcana.models import ApiKeyOwner, ApiKeyReplica


class InvalidApiKey(Unauthorized):
    type = "https://vareon.dev/problems/invalid-api-key"
    title = "Invalid API key"


class MissingScope(Forbidden):
    type = "https://vareon.dev/problems/api-key-scope"
    title = "The API key lacks a scope"


@dataclass(frozen=True)
class VerifiedKey:
    key_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    roles: frozenset[str]


async def verify(session: AsyncSession, key: str, scope: str) -> VerifiedKey:
    """The key behind a presented secret: known, not revoked, not expired, with ``scope``."""
    row = await session.scalar(
        select(ApiKeyReplica).where(ApiKeyReplica.key_hash == hash_api_key(key))
    )
    if row is None:
        raise InvalidApiKey("unknown API key")
    if row.revoked_at is not None:
        raise InvalidApiKey("this API key was revoked")
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise InvalidApiKey("this API key has expired")
    if scope not in row.scopes:
        raise MissingScope(f"this API key lacks the {scope!r} scope")
    owner = await session.get(ApiKeyOwner, row.user_id)
    roles = frozenset(owner.roles) if owner else frozenset()
    return VerifiedKey(row.key_id, row.user_id, row.name, frozenset(row.scopes), roles)


async def _owner_roles(
    session: AsyncSession, user_id: uuid.UUID, roles: list[str], as_of: datetime
) -> None:
    """The newest roles by identity's clock (key and user events come on two topics)."""
    stmt = insert(ApiKeyOwner).values(user_id=user_id, roles=sorted(roles), as_of=as_of)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ApiKeyOwner.user_id],
            set_={"roles": stmt.excluded.roles, "as_of": stmt.excluded.as_of},
            where=ApiKeyOwner.as_of < stmt.excluded.as_of,
        )
    )


async def apply_created(session: AsyncSession, event: ApiKeyCreatedV1) -> None:
    stmt = insert(ApiKeyReplica).values(
        key_id=event.key_id,
        user_id=event.user_id,
        name=event.name,
        prefix=event.prefix,
        key_hash=event.key_hash,
        scopes=event.scopes,
        expires_at=event.expires_at,
        budget_total=event.budget_total,
        budget_period=event.budget_period,
        budget_per_period=event.budget_per_period,
        rpm_limit=event.rpm_limit,
        created_at=event.created_at,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=[ApiKeyReplica.key_id]))
    await _owner_roles(session, event.user_id, event.owner_roles, event.created_at)


async def apply_renamed(session: AsyncSession, event: ApiKeyRenamedV1) -> None:
    await session.execute(
        update(ApiKeyReplica).where(ApiKeyReplica.key_id == event.key_id).values(name=event.name)
    )


async def apply_revoked(session: AsyncSession, event: ApiKeyRevokedV1) -> None:
    await session.execute(
        update(ApiKeyReplica)
        .where(ApiKeyReplica.key_id == event.key_id, ApiKeyReplica.revoked_at.is_(None))
        .values(revoked_at=event.revoked_at)
    )


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The account is gone: its keys stop at once (their revocations follow anyway)."""
    await session.execute(
        update(ApiKeyReplica)
        .where(ApiKeyReplica.user_id == user_id, ApiKeyReplica.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await session.execute(delete(ApiKeyOwner).where(ApiKeyOwner.user_id == user_id))


def build_consumers() -> list[EventConsumer]:
    keys = EventConsumer(name="arcana.api-keys", topics=(topics.IDENTITY_API_KEY,))
    owners = EventConsumer(name="arcana.api-key-owners", topics=(topics.IDENTITY_USER,))

    @keys.on(ApiKeyCreatedV1)
    async def created(session: AsyncSession, event: ApiKeyCreatedV1, envelope: Envelope) -> None:
        await apply_created(session, event)

    @keys.on(ApiKeyRenamedV1)
    async def renamed(session: AsyncSession, event: ApiKeyRenamedV1, envelope: Envelope) -> None:
        await apply_renamed(session, event)

    @keys.on(ApiKeyRevokedV1)
    async def revoked(session: AsyncSession, event: ApiKeyRevokedV1, envelope: Envelope) -> None:
        await apply_revoked(session, event)

    @owners.on(UserUpdatedV1)
    async def user_updated(session: AsyncSession, event: UserUpdatedV1, envelope: Envelope) -> None:
        await _owner_roles(session, event.user_id, event.roles, event.updated_at)

    @owners.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await forget_user(session, event.user_id)

    return [keys, owners]
