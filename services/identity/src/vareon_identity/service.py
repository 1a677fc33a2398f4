"""Identity's use cases. Each takes the unit of work's session and only flushes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor, encode_cursor
from vareon_contracts.events.identity import (
    SessionsRevokedV1,
    UserDeletedV1,
    UserRegisteredV1,
    UserUpdatedV1,
)

from vareon_identity import api_keys
from vareon_identity.errors import (
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    RoleNotFound,
    UserNotFound,
)
from vareon_identity.models import (
    OUTBOX,
    EmailVerification,
    GoogleIdentity,
    OutgoingMail,
    RefreshSession,
    Role,
    User,
)
from vareon_identity.passwords import Passwords, check_policy
from vareon_identity.tokens import hash_refresh_token, new_refresh_token

DEFAULT_ROLE = "user"
MAX_EMAIL_LENGTH = 320


def _now() -> datetime:
    return datetime.now(UTC)


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register(
    session: AsyncSession, passwords: Passwords, *, email: str, password: str, display_name: str
) -> User:
    email = normalise_email(email)
    check_policy(password, email=email)
    # Hash before the first query: the session holds a pooled connection from then on.
    password_hash = await passwords.hash_async(password)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(f"{email} is already registered")
    role = await session.get(Role, DEFAULT_ROLE)
    now = _now()
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=password_hash,
        display_name=display_name,
        preferences={},
        created_at=now,
        updated_at=now,
        roles=[role] if role else [],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same email won the race
        raise EmailTaken(f"{email} is already registered") from exc
    await OUTBOX.publish(
        session,
        UserRegisteredV1(
            user_id=user.id, email=email, display_name=display_name, registered_at=now
        ),
    )
    return user


async def authenticate(
    session: AsyncSession, passwords: Passwords, *, email: str, password: str
) -> User:
    """The user these credentials belong to; same error and similar time for every failure."""
    email = normalise_email(email)
    user = None
    if "\x00" not in email and len(email) <= MAX_EMAIL_LENGTH:
        user = await session.scalar(
            select(User).where(User.email == email, User.deleted_at.is_(None))
        )
    stored = user.password_hash if user else None
    if not await passwords.verify_async(stored, password) or user is None:
        raise InvalidCredentials()
    if stored and passwords.needs_rehash(stored):
        user.password_hash = await passwords.hash_async(password)
    return user


async def active_user(session: AsyncSession, user_id: UUID) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id, User.deleted_at.is_(None)))


async def family_revoked(session: AsyncSession, family_id: UUID) -> bool:
    return (
        await session.scalar(
            select(RefreshSession.id)
            .where(RefreshSession.family_id == family_id, RefreshSession.revoked_at.is_not(None))
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class IssuedRefresh:
    token: str
    session: RefreshSession


async def start_session(
    session: AsyncSession,
    user: User,
    *,
    ttl_s: int,
    user_agent: str | None,
    ip: str | None,
    family_id: UUID | None = None,
    parent_id: UUID | None = None,
) -> IssuedRefresh:
    token, token_hash = new_refresh_token()
    now = _now()
    row = RefreshSession(
        id=uuid.uuid4(),
        user_id=user.id,
        family_id=family_id or uuid.uuid4(),
        parent_id=parent_id,
        token_hash=token_hash,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        last_used_at=now,
        user_agent=(user_agent or None) and user_agent[:512],
        ip=(ip or None) and ip[:64],
    )
    session.add(row)
    await session.flush()
    return IssuedRefresh(token, row)


async def _revoke(session: AsyncSession, *conditions: Any, reason: str | None = None) -> None:
    """Revoke the matching refresh tokens; with a reason, announce the logins (session ids)
    that ended, so every service refuses their access tokens before they expire."""
    now = _now()
    ended = await session.execute(
        update(RefreshSession)
        .where(RefreshSession.revoked_at.is_(None), *conditions)
        .values(revoked_at=now)
        .returning(RefreshSession.user_id, RefreshSession.family_id)
    )
    by_user: dict[UUID, set[UUID]] = {}
    for user_id, family_id in ended.all():
        by_user.setdefault(user_id, set()).add(family_id)
    if reason is None:
        return
    for user_id, families in by_user.items():
        await OUTBOX.publish(
            session,
            SessionsRevokedV1(
                user_id=user_id, session_ids=sorted(families), reason=reason, revoked_at=now
            ),
        )


async def rotate(
    session: AsyncSession,
    token: str,
    *,
    ttl_s: int,
    max_lifetime_s: int,
    user_agent: str | None,
    ip: str | None,
) -> tuple[User, IssuedRefresh]:
    """Exchange a refresh token for a new one of the same family; a reused one kills the family."""
    row = await session.scalar(
        select(RefreshSession)
        .where(RefreshSession.token_hash == hash_refresh_token(token))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.revoked_at is not None:
        raise InvalidRefreshToken("refresh token not valid")
    if row.rotated_at is not None:
        await _revoke(session, RefreshSession.family_id == row.family_id, reason="token-reused")
        raise RefreshTokenReused(
            "refresh token already used; every session of that login is revoked"
        )
    now = _now()
    user = await active_user(session, row.user_id)
    started = await login_started_at(session, row.family_id) or row.created_at
    ends = started + timedelta(seconds=max_lifetime_s)
    if row.expires_at <= now or ends <= now or user is None:
        raise InvalidRefreshToken("refresh token not valid")
    row.rotated_at = row.last_used_at = now
    issued = await start_session(
        session,
        user,
        ttl_s=min(ttl_s, int((ends - now).total_seconds())),
        user_agent=user_agent,
        ip=ip,
        family_id=row.family_id,
        parent_id=row.id,
    )
    return user, issued


async def logout(session: AsyncSession, user_id: UUID, token: str) -> None:
    family = await session.scalar(
        select(RefreshSession.family_id).where(
            RefreshSession.token_hash == hash_refresh_token(token),
            RefreshSession.user_id == user_id,
        )
    )
    if family is None:
        raise InvalidRefreshToken("refresh token not valid")
    await _revoke(session, RefreshSession.family_id == family, reason="logout")


async def logout_all(
    session: AsyncSession,
    user_id: UUID,
    *,
    keep_family: UUID | None = None,
    reason: str = "logout-all",
) -> None:
    conditions = [RefreshSession.user_id == user_id]
    if keep_family is not None:
        conditions.append(RefreshSession.family_id != keep_family)
    await _revoke(session, *conditions, reason=reason)


async def active_sessions(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """The current token of each live login, with when that login started."""
    started = (
        select(RefreshSession.family_id, func.min(RefreshSession.created_at).label("at"))
        .where(RefreshSession.user_id == user_id)
        .group_by(RefreshSession.family_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(RefreshSession, started.c.at)
            .join(started, started.c.family_id == RefreshSession.family_id)
            .where(
                RefreshSession.user_id == user_id,
                RefreshSession.rotated_at.is_(None),
                RefreshSession.revoked_at.is_(None),
                RefreshSession.expires_at > _now(),
            )
            .order_by(RefreshSession.last_used_at.desc())
        )
    ).all()
    return [
        {
            "id": r.family_id,
            "started_at": at,
            "last_used_at": r.last_used_at,
            "expires_at": r.expires_at,
            "user_agent": r.user_agent,
            "ip": r.ip,
        }
        for r, at in rows
    ]


def _updated_event(user: User) -> UserUpdatedV1:
    assert user.email is not None
    return UserUpdatedV1(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        roles=user.role_names,
        updated_at=user.updated_at,
    )


async def update_profile(session: AsyncSession, user: User, changes: dict[str, Any]) -> User:
    for field in ("display_name", "avatar_url", "preferences"):
        if field in changes:
            setattr(user, field, changes[field])
    user.updated_at = _now()
    await session.flush()
    await OUTBOX.publish(session, _updated_event(user))
    return user


async def login_started_at(session: AsyncSession, family_id: UUID) -> datetime | None:
    return await session.scalar(
        select(func.min(RefreshSession.created_at)).where(RefreshSession.family_id == family_id)
    )


async def check_password(passwords: Passwords, user: User, password: str) -> None:
    if not await passwords.verify_async(user.password_hash, password):
        raise InvalidCredentials()


async def change_password(
    session: AsyncSession,
    passwords: Passwords,
    user: User,
    *,
    new: str,
    keep_family: UUID | None,
) -> None:
    """Set a new password; the caller has checked the current one."""
    check_policy(new, email=user.email)
    user.password_hash = await passwords.hash_async(new)
    user.updated_at = _now()
    await logout_all(session, user.id, keep_family=keep_family, reason="password-changed")


async def delete_user(session: AsyncSession, user: User) -> None:
    """Soft-delete: the row stays (ids referenced elsewhere), the personal data goes."""
    now = _now()
    await session.execute(delete(OutgoingMail).where(OutgoingMail.recipient == user.email))
    user.deleted_at = user.updated_at = now
    user.email = user.password_hash = user.avatar_url = None
    user.display_name = ""
    user.preferences = {}
    user.roles = []
    await logout_all(session, user.id, reason="user-deleted")
    await api_keys.revoke_all(session, user.id, reason="user-deleted")
    for linked in (GoogleIdentity, EmailVerification):
        await session.execute(delete(linked).where(linked.user_id == user.id))
    await session.flush()
    await OUTBOX.publish(session, UserDeletedV1(user_id=user.id, deleted_at=now))


async def list_users(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[User], str | None]:
    query = select(User).where(User.deleted_at.is_(None))
    if (after := decode_cursor(cursor, datetime, UUID)) is not None:
        query = query.where(tuple_(User.created_at, User.id) > after)
    users = list(
        (await session.scalars(query.order_by(User.created_at, User.id).limit(limit + 1))).all()
    )
    last = users[limit - 1] if len(users) > limit else None
    next_cursor = encode_cursor(last.created_at, last.id) if last else None
    return users[:limit], next_cursor


async def _user_and_role(session: AsyncSession, user_id: UUID, role: str) -> tuple[User, Role]:
    user = await active_user(session, user_id)
    if user is None:
        raise UserNotFound(f"no user {user_id}")
    found = await session.get(Role, role) if len(role) <= 64 and "\x00" not in role else None
    if found is None:
        raise RoleNotFound(f"no role {role!r}")
    return user, found


async def grant_role(session: AsyncSession, user_id: UUID, role: str) -> User:
    user, found = await _user_and_role(session, user_id, role)
    if found.name != DEFAULT_ROLE and user.email_verified_at is None:
        raise EmailNotVerified(
            f"{user.email} must verify their email before being granted {role!r}"
        )
    if found not in user.roles:
        user.roles.append(found)
        user.updated_at = _now()
        await session.flush()
        await OUTBOX.publish(session, _updated_event(user))
    return user


async def revoke_role(session: AsyncSession, user_id: UUID, role: str) -> User:
    user, found = await _user_and_role(session, user_id, role)
    if found in user.roles:
        user.roles.remove(found)
        user.updated_at = _now()
        # no refresh may mint a token with the old role, no service accept one carrying it
        await logout_all(session, user.id, reason="role-revoked")
        await session.flush()
        await OUTBOX.publish(session, _updated_event(user))
    return user
