"""Access tokens (EdDSA JWTs) and refresh tokens (random; only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from vareon_identity.keys import KeyRing


def new_secret_token() -> tuple[str, bytes]:
    """A 256-bit random token and the hash under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret_token(token)


def hash_secret_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


new_refresh_token = new_secret_token
hash_refresh_token = hash_secret_token


def issue_access_token(
    keys: KeyRing,
    *,
    user_id: UUID,
    email: str,
    roles: Iterable[str],
    permissions: Iterable[str],
    session_id: UUID | None,
    email_verified: bool = False,
    issuer: str,
    audience: str,
    ttl_s: int,
    now: datetime | None = None,
) -> str:
    now = now or datetime.now(UTC)
    key = keys.active
    claims = {
        "sub": str(user_id),
        "email": email,
        "email_verified": email_verified,
        "roles": sorted(roles),
        "permissions": sorted(permissions),
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
        "iss": issuer,
        "aud": audience,
        "jti": str(uuid.uuid4()),
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


class TokenIssuer:
    def __init__(self, keys: KeyRing, *, issuer: str, audience: str, ttl_s: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    def issue(
        self,
        *,
        user_id: UUID,
        email: str,
        roles: Iterable[str],
        permissions: Iterable[str],
        session_id: UUID | None,
        email_verified: bool = False,
    ) -> str:
        return issue_access_token(
            self.keys,
            user_id=user_id,
            email=email,
            roles=roles,
            permissions=permissions,
            session_id=session_id,
            email_verified=email_verified,
            issuer=self.issuer,
            audience=self.audience,
            ttl_s=self.ttl_s,
        )
