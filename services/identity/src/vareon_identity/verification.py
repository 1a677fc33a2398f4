"""Email verification: single-use, expiring tokens (only their hash is stored), sent by mail.

The mail is a row of `mail_outbox` written in the same transaction as the token, so a
registration never commits without its mail and an SMTP failure never rolls one back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.identity import UserVerifiedV1

from vareon_identity.errors import AlreadyVerified, InvalidVerificationToken
from vareon_identity.models import OUTBOX, EmailVerification, OutgoingMail, User
from vareon_identity.tokens import hash_secret_token, new_secret_token

SUBJECT = "Confirm your Vareon email address"


def verification_link(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/verify-email?{urlencode({'token': token})}"


def verification_mail(link: str, token: str, ttl_s: int) -> str:
    """No user-chosen text (display name): a registration must not mail an attacker's
    message to any address under our name."""
    hours = max(1, ttl_s // 3600)
    return (
        "Hello,\n\n"
        f"confirm that this address is yours by opening this link within {hours} hours:\n\n"
        f"{link}\n\n"
        f"or by sending this token to POST /api/v1/auth/verify-email:\n\n"
        f"{token}\n\n"
        "If you did not create a Vareon account, ignore this mail.\n"
    )


async def send_verification(
    session: AsyncSession, user: User, *, ttl_s: int, public_base_url: str
) -> None:
    """A new token for the user's current address, and the mail carrying it (not yet sent)."""
    if user.email_verified_at is not None:
        raise AlreadyVerified(f"{user.email} is already verified")
    assert user.email is not None
    token, token_hash = new_secret_token()
    now = datetime.now(UTC)
    session.add(
        EmailVerification(
            id=uuid.uuid4(),
            user_id=user.id,
            email=user.email,
            token_hash=token_hash,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    link = verification_link(public_base_url, token)
    session.add(
        OutgoingMail(
            recipient=user.email,
            subject=SUBJECT,
            body=verification_mail(link, token, ttl_s),
        )
    )
    await session.flush()


async def verify_email(session: AsyncSession, token: str) -> User:
    """Mark the token's user verified; every other open token of that user is used up too."""
    row = await session.scalar(
        select(EmailVerification)
        .where(EmailVerification.token_hash == hash_secret_token(token))
        .with_for_update()
    )
    if row is None:
        raise InvalidVerificationToken("unknown")
    if row.used_at is not None:
        raise InvalidVerificationToken("already used")
    now = datetime.now(UTC)
    if row.expires_at <= now:
        raise InvalidVerificationToken("expired")
    user = await session.scalar(
        select(User).where(User.id == row.user_id, User.deleted_at.is_(None))
    )
    if user is None or user.email != row.email:  # the account is gone or changed address
        raise InvalidVerificationToken("no longer valid")
    await session.execute(
        update(EmailVerification)
        .where(EmailVerification.user_id == user.id, EmailVerification.used_at.is_(None))
        .values(used_at=now)
    )
    await mark_verified(session, user, now)
    return user


async def mark_verified(session: AsyncSession, user: User, now: datetime) -> None:
    if user.email_verified_at is not None:
        return
    assert user.email is not None
    user.email_verified_at = user.updated_at = now
    await session.flush()
    await OUTBOX.publish(
        session, UserVerifiedV1(user_id=user.id, email=user.email, verified_at=now)
    )
