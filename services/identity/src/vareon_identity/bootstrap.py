"""The first admin of a fresh platform, written straight into identity's database.

Used by `vareon seed-admin`: nobody can grant `admin` through the API before an admin exists.
Events (registered, verified, updated) go through the outbox like any other change, so the
relay publishes them when identity runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.db import create_engine, create_sessionmaker

from vareon_identity.models import User
from vareon_identity.passwords import Passwords
from vareon_identity.service import grant_role, normalise_email, register
from vareon_identity.settings import IdentitySettings
from vareon_identity.verification import mark_verified

ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class SeededAdmin:
    user_id: UUID
    email: str
    created: bool


class PasswordRequired(ValueError):
    pass


async def seed_admin(
    session: AsyncSession, passwords: Passwords, *, email: str, password: str | None
) -> SeededAdmin:
    """Create the account (a password is then required) or promote the existing one.

    The operator vouches for the address, so it is marked verified; an existing account's
    password is left as it is.
    """
    email = normalise_email(email)
    user = await session.scalar(select(User).where(User.email == email, User.deleted_at.is_(None)))
    created = user is None
    if user is None:
        if password is None:
            raise PasswordRequired(f"{email} has no account yet: a password is needed to create it")
        user = await register(
            session, passwords, email=email, password=password, display_name=email.split("@")[0]
        )
    await mark_verified(session, user, datetime.now(UTC))
    await grant_role(session, user.id, ADMIN_ROLE)
    return SeededAdmin(user.id, email, created)


async def seed_admin_at(database_url: str, *, email: str, password: str | None) -> SeededAdmin:
    defaults = IdentitySettings(database_url=database_url)
    passwords = Passwords(
        time_cost=defaults.argon2_time_cost,
        memory_cost_kib=defaults.argon2_memory_cost_kib,
        parallelism=defaults.argon2_parallelism,
    )
    engine = create_engine(defaults.database_url, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await seed_admin(session, passwords, email=email, password=password)
    finally:
        await engine.dispose()
