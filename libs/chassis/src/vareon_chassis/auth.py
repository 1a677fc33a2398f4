"""Bearer-token verification from identity's JWKS, the current user and permission checks."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vareon_chassis.errors import Forbidden, ServiceUnavailable, Unauthorized
from vareon_chassis.observability import bind_user

ALGORITHMS = ["EdDSA"]
LEEWAY_S = 30.0
"""Clock skew tolerated on exp/iat/nbf: PyJWT alone refuses an iat a second ahead."""
KeySource = Callable[[], Awaitable[jwt.PyJWKSet]]


@dataclass(frozen=True)
class Principal:
    id: UUID
    email: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    token_id: str | None = None
    email_verified: bool = False
    session_id: UUID | None = None
    """The login (refresh token family) the token was issued for: its `sid` claim."""

    def has(self, permission: str) -> bool:
        return permission in self.permissions


class KeysUnavailable(Exception):
    """The signing keys could not be fetched (identity unreachable or answering garbage)."""


class JWKSKeys:
    """Keys fetched from a JWKS URL and cached for ``ttl_s``.

    One fetch in flight at a time, and whoever waited for it uses its outcome rather than
    fetching again. A forced refetch (a token with an unknown kid) happens at most every
    ``min_refresh_s``; a failed fetch is remembered for as long, so an unreachable identity
    costs one attempt per interval whatever the load. When a routine refresh fails, the keys
    already held keep serving (identity rotates keys with overlap, never abruptly).
    """

    def __init__(
        self, url: str, *, ttl_s: float = 300.0, min_refresh_s: float = 5.0, timeout_s: float = 5.0
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.timeout_s = timeout_s
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._failure: Exception | None = None
        self._lock = asyncio.Lock()

    def _usable(self, now: float, force: bool) -> jwt.PyJWKSet | None:
        age = now - self._fetched_at
        stale = age >= self.ttl_s or (force and age >= self.min_refresh_s)
        return None if self._keys is None or stale else self._keys

    def _outcome(self, force: bool) -> jwt.PyJWKSet:
        """The result of the latest attempt, for callers that must not make another yet."""
        if self._failure is not None and (force or self._keys is None):
            raise KeysUnavailable(str(self._failure)) from self._failure
        assert self._keys is not None
        return self._keys

    async def __call__(self, force: bool = False) -> jwt.PyJWKSet:
        entered = time.monotonic()
        if (keys := self._usable(entered, force)) is not None:
            return keys
        if entered - self._attempted_at < self.min_refresh_s:
            return self._outcome(force)
        async with self._lock:
            if self._attempted_at >= entered:  # fetched while we waited for the lock
                return self._outcome(force)
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                self._failure, self._attempted_at = exc, time.monotonic()
                return self._outcome(force)
            self._keys, self._failure = keys, None
            self._fetched_at = self._attempted_at = time.monotonic()
            return keys

    async def _fetch(self) -> jwt.PyJWKSet:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            response = await client.get(self.url)
            response.raise_for_status()
        return jwt.PyJWKSet.from_dict(response.json())


class TokenVerifier:
    def __init__(
        self,
        keys: Callable[..., Awaitable[jwt.PyJWKSet]],
        *,
        issuer: str,
        audience: str,
        leeway_s: float = LEEWAY_S,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.unknown_kid_ttl_s = 5.0
        """An unknown kid is answered 401 from memory for this long (a negative cache)."""
        self._unknown_kids: dict[str, float] = {}

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
                leeway=self.leeway_s,
            )
            return Principal(
                id=UUID(claims["sub"]),
                email=claims.get("email", ""),
                roles=tuple(claims.get("roles", ())),
                permissions=frozenset(claims.get("permissions", ())),
                token_id=claims.get("jti"),
                email_verified=claims.get("email_verified") is True,
                session_id=UUID(claims["sid"]) if claims.get("sid") else None,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise Unauthorized("invalid token") from exc

    async def _key(self, kid: str | None) -> Any:
        if not kid:
            raise Unauthorized("token has no key id")
        for force in (False, True):
            if force and self._unknown_kids.get(kid, 0.0) > time.monotonic():
                break  # asked about moments ago: not worth a fetch
            try:
                keyset = await self.keys(force) if force else await self.keys()
            except (KeysUnavailable, httpx.HTTPError) as exc:
                # Not the client's fault: its token may well be valid.
                raise ServiceUnavailable(
                    "The signing keys cannot be fetched; try again shortly.",
                    headers={"Retry-After": "5"},
                ) from exc
            for jwk in keyset.keys:
                if jwk.key_id == kid:
                    return jwk.key
        if len(self._unknown_kids) >= 1024:
            self._unknown_kids.clear()
        self._unknown_kids[kid] = time.monotonic() + self.unknown_kid_ttl_s
        raise Unauthorized("unknown signing key")


_bearer = HTTPBearer(auto_error=False)


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("bearer token required")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(credentials.credentials)
    revoked = getattr(request.app.state, "revoked_sessions", None)  # see revocations.py
    if revoked is not None and principal.session_id in revoked:
        raise Unauthorized("this session was signed out")
    bind_user(principal.id)
    return principal


CurrentUser = Annotated[Principal, Depends(_current_user)]


def require_permission(permission: str) -> Any:
    async def check(user: CurrentUser) -> Principal:
        if not user.has(permission):
            raise Forbidden(f"missing permission {permission!r}")
        return user

    return Depends(check)


def require_any(*permissions: str) -> Any:
    """The caller holds at least one of ``permissions`` (e.g. read or write may list)."""
    if not permissions:
        raise ValueError("require_any needs at least one permission")

    async def check(user: CurrentUser) -> Principal:
        if not any(user.has(p) for p in permissions):
            raise Forbidden(f"needs one of the permissions {', '.join(permissions)}")
        return user

    return Depends(check)
