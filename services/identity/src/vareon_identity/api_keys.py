"""API keys: made, listed, renamed and revoked here; checked by arcana from their events.

The secret is returned once and never stored: the row and the events carry its SHA-256
(vareon_chassis.api_keys says why a fast hash is right for a 256-bit secret).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.api_keys import PREFIX_SHOWN, hash_api_key, new_api_key
from vareon_chassis.pagination import decode_cursor, encode_cursor
from vareon_contracts.events.identity import ApiKeyCreatedV1, ApiKeyRenamedV1, ApiKeyRevokedV1

from vareon_identity.errors import ApiKeyNotFound, EmailNotVerified, InvalidApiKeyLimits
from vareon_identity.models import OUTBOX, ApiKey, User
from vareon_identity.schemas import ApiKeyCreate

MAX_ACTIVE_KEYS = 50


def _now() -> datetime:
    return datetime.now(UTC)


async def create(session: AsyncSession, user: User, spec: ApiKeyCreate) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time the secret exists outside the client)."""
    if user.email_verified_at is None:
        raise EmailNotVerified("verify your email address before making API keys")
    if (spec.budget_period is None) != (spec.budget_per_period is None):
        raise InvalidApiKeyLimits("budget_period and budget_per_period go together")
    if spec.expires_at is not None and spec.expires_at <= _now():
        raise InvalidApiKeyLimits("expires_at must be in the future")
    active = await session.scalar(
        select(ApiKey.id)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        .offset(MAX_ACTIVE_KEYS - 1)
        .limit(1)
    )
    if active is not None:
        raise InvalidApiKeyLimits(f"at most {MAX_ACTIVE_KEYS} active keys; revoke one first")
    secret = new_api_key()
    key = ApiKey(
        id=uuid.uuid4(),
        user_id=user.id,
        name=spec.name,
        prefix=secret[:PREFIX_SHOWN],
        key_hash=hash_api_key(secret),
        scopes=sorted(set(spec.scopes)),
        expires_at=spec.expires_at,
        budget_total=spec.budget_total,
        budget_period=spec.budget_period,
        budget_per_period=spec.budget_per_period,
        rpm_limit=spec.rpm_limit,
        created_at=_now(),
    )
    session.add(key)
    await session.flush()
    await OUTBOX.publish(
        session,
        ApiKeyCreatedV1(
            key_id=key.id,
            user_id=key.user_id,
            name=key.name,
            prefix=key.prefix,
            key_hash=key.key_hash,
            scopes=key.scopes,
            expires_at=key.expires_at,
            budget_total=key.budget_total,
            budget_period=key.budget_period,
            budget_per_period=key.budget_per_period,
            rpm_limit=key.rpm_limit,
            owner_roles=user.role_names,
            created_at=key.created_at,
        ),
    )
    return key, secret


async def page(
    session: AsyncSession,
    *,
    user_id: UUID | None,
    include_revoked: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[ApiKey], str | None]:
    """Keys in creation order: one user's, or everyone's (``user_id`` None, for admins)."""
    query = select(ApiKey)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    if (after := decode_cursor(cursor, datetime, UUID)) is not None:
        query = query.where(tuple_(ApiKey.created_at, ApiKey.id) > after)
    found = list(
        await session.scalars(query.order_by(ApiKey.created_at, ApiKey.id).limit(limit + 1))
    )
    last = found[limit - 1] if len(found) > limit else None
    return found[:limit], encode_cursor(last.created_at, last.id) if last else None


async def owned(session: AsyncSession, key_id: UUID, user_id: UUID | None) -> ApiKey:
    """The key, locked; a key of someone else is as unknown as one that does not exist."""
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id).with_for_update())
    if key is None or (user_id is not None and key.user_id != user_id):
        raise ApiKeyNotFound(f"no API key {key_id}")
    return key


async def rename(session: AsyncSession, key: ApiKey, name: str) -> ApiKey:
    if key.name != name:
        key.name = name
        await session.flush()
        await OUTBOX.publish(
            session,
            ApiKeyRenamedV1(key_id=key.id, user_id=key.user_id, name=name, renamed_at=_now()),
        )
    return key


async def revoke(session: AsyncSession, key: ApiKey, *, reason: str) -> ApiKey:
    """Idempotent: a revoked key stays revoked, with its first reason."""
    if key.revoked_at is None:
        key.revoked_at = _now()
        key.revoked_reason = reason
        await session.flush()
        await OUTBOX.publish(
            session,
            ApiKeyRevokedV1(
                key_id=key.id,
                user_id=key.user_id,
                key_hash=key.key_hash,
                reason=reason,
                revoked_at=key.revoked_at,
            ),
        )
    return key


async def revoke_all(session: AsyncSession, user_id: UUID, *, reason: str) -> None:
    keys = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .with_for_update()
    )
    for key in list(keys):
        await revoke(session, key, reason=reason)
