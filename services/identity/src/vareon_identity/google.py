"""Google sign-in: verify a Google ID token, then find, link or create the user it names.

Tokens are checked against Google's published keys (RS256, cached; refetched on an unknown
kid), issuer, audience (our OAuth client id), expiry, and a verified email.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import JWKSKeys
from vareon_contracts.events.identity import UserRegisteredV1, UserVerifiedV1

from vareon_identity.errors import EmailTaken, GoogleKeysUnavailable, InvalidGoogleToken
from vareon_identity.models import OUTBOX, GoogleIdentity, Role, User
from vareon_identity.service import DEFAULT_ROLE, active_user, logout_all, normalise_email
from vareon_identity.verification import mark_verified

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
LEEWAY_S = 30  # clock skew between Google and us


@dataclass(frozen=True)
class GoogleAccount:
    subject: str
    email: str
    name: str | None


class GoogleVerifier:
    def __init__(self, client_id: str, jwks_url: str) -> None:
        self.client_id = client_id
        self.keys = JWKSKeys(jwks_url)

    async def verify(self, id_token: str) -> GoogleAccount:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise InvalidGoogleToken("malformed token") from exc
        if header.get("alg") != "RS256":
            raise InvalidGoogleToken("token algorithm not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=self.client_id,
                issuer=ISSUERS,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidGoogleToken("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidGoogleToken("token was issued for another client") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidGoogleToken("token was not issued by Google") from exc
        except jwt.PyJWTError as exc:
            raise InvalidGoogleToken("invalid token") from exc
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 320:
            raise InvalidGoogleToken("token carries no email address")
        if claims.get("email_verified") not in (True, "true"):
            raise InvalidGoogleToken("Google has not verified this email address")
        name = claims.get("name")
        return GoogleAccount(str(claims["sub"]), email, name if isinstance(name, str) else None)

    async def _key(self, kid: str | None) -> Any:
        if not kid:
            raise InvalidGoogleToken("token has no key id")
        for force in (False, True):
            try:
                keyset = await self.keys(force)
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                raise GoogleKeysUnavailable("cannot fetch Google's signing keys") from exc
            for jwk in keyset.keys:
                if jwk.key_id == kid:
                    return jwk.key
        raise InvalidGoogleToken("unknown signing key")


async def sign_in(session: AsyncSession, account: GoogleAccount) -> User:
    """The user of this Google account: linked before, found by verified email, or new."""
    now = datetime.now(UTC)
    link = await session.get(GoogleIdentity, account.subject, with_for_update=True)
    if link is not None:
        user = await active_user(session, link.user_id)
        if user is not None:
            link.email, link.last_sign_in_at = account.email, now
            return user
        await session.delete(link)  # its account was deleted: start afresh
        await session.flush()
    email = normalise_email(account.email)
    user = await session.scalar(
        select(User).where(User.email == email, User.deleted_at.is_(None)).with_for_update()
    )
    if user is None:
        user = await _create(session, email, account.name or email.split("@")[0], now)
    elif user.email_verified_at is None:
        # Whoever registered this address never proved it: the password may be an attacker's
        # (pre-registration takeover). Google proved the owner; the password goes.
        user.password_hash = None
        await logout_all(session, user.id, reason="password-removed")
        await mark_verified(session, user, now)
    session.add(
        GoogleIdentity(
            subject=account.subject,
            user_id=user.id,
            email=account.email,
            linked_at=now,
            last_sign_in_at=now,
        )
    )
    await session.flush()
    return user


async def _create(session: AsyncSession, email: str, name: str, now: datetime) -> User:
    role = await session.get(Role, DEFAULT_ROLE)
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=None,
        display_name=name.strip()[:100] or "user",
        preferences={},
        email_verified_at=now,
        created_at=now,
        updated_at=now,
        roles=[role] if role else [],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same email won
        raise EmailTaken(f"{email} was registered at the same moment; sign in again") from exc
    await OUTBOX.publish(
        session,
        UserRegisteredV1(
            user_id=user.id, email=email, display_name=user.display_name, registered_at=now
        ),
    )
    await OUTBOX.publish(session, UserVerifiedV1(user_id=user.id, email=email, verified_at=now))
    return user
