"""Bearer-token verification from identity's JWKS, the current user and permission checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vareon_chassis.errors import Forbidden, Unauthorized

ALGORITHMS = ["EdDSA"]
KeySource = Callable[[], Awaitable[jwt.PyJWKSet]]


@dataclass(frozen=True)
class Principal:
    id: UUID
    email: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    token_id: str | None = None
    email_verified: bool = False

    def has(self, permission: str) -> bool:
        return permission in self.permissions


class JWKSKeys:
    """Keys fetched from a JWKS URL, cached, refetched (at most every few seconds) on a new kid."""

    def __init__(self, url: str, *, ttl_s: float = 300.0, min_refresh_s: float = 5.0) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self, force: bool = False) -> jwt.PyJWKSet:
        age = time.monotonic() - self._fetched_at
        if self._keys is not None and age < self.ttl_s and not (force and age > self.min_refresh_s):
            return self._keys
        async with self._lock:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self.url)
                response.raise_for_status()
            self._keys = jwt.PyJWKSet.from_dict(response.json())
            self._fetched_at = time.monotonic()
            return self._keys


class TokenVerifier:
    def __init__(
        self, keys: Callable[..., Awaitable[jwt.PyJWKSet]], *, issuer: str, audience: str
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("token algorithm not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return Principal(
                id=UUID(claims["sub"]),
                email=claims.get("email", ""),
                roles=tuple(claims.get("roles", ())),
                permissions=frozenset(claims.get("permissions", ())),
                token_id=claims.get("jti"),
                email_verified=claims.get("email_verified") is True,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise Unauthorized("invalid token") from exc

    async def _key(self, kid: str | None) -> Any:
        if not kid:
            raise Unauthorized("token has no key id")
        for force in (False, True):
            try:
                keyset = await self.keys(force) if force else await self.keys()
            except httpx.HTTPError as exc:
                raise Unauthorized("signing keys unavailable") from exc
            for jwk in keyset.keys:
                if jwk.key_id == kid:
                    return jwk.key
        raise Unauthorized("unknown signing key")


_bearer = HTTPBearer(auto_error=False)


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("bearer token required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


CurrentUser = Annotated[Principal, Depends(_current_user)]


def require_permission(permission: str) -> Any:
    async def check(user: CurrentUser) -> Principal:
        if not user.has(permission):
            raise Forbidden(f"missing permission {permission!r}")
        return user

    return Depends(check)
