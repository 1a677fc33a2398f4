"""Verified-token cache: a bearer token checked once is trusted again until its ``exp`` (at
most ``ttl_s``), so the edge pays the EdDSA verification once per token, not per request.

Keyed by the token's SHA-256, so the cache holds no usable credentials. Bounded: when full,
the oldest entry goes. Revocation is not seen here for up to ``ttl_s``; every service checks
the token again behind the edge (and its sessions-revoked cache), so the edge check sheds
load, it does not grant anything on its own.
"""

from __future__ import annotations

import hashlib
import time

import jwt
from vareon_chassis.auth import Principal, TokenVerifier


class VerifiedTokens:
    def __init__(self, verifier: TokenVerifier, *, ttl_s: float = 60.0, size: int = 10_000):
        self.verifier = verifier
        self.ttl_s = ttl_s
        self.size = size
        self._cache: dict[bytes, tuple[float, Principal, str]] = {}

    async def verify(self, token: str) -> Principal:
        return (await self.verify_keyed(token))[0]

    async def verify_keyed(self, token: str) -> tuple[Principal, str]:
        """The principal and its rate-limit key (``user:<sub>``, made once per token)."""
        key = hashlib.sha256(token.encode()).digest()
        hit = self._cache.get(key)
        now = time.time()
        if hit is not None:
            if hit[0] > now:
                return hit[1], hit[2]
            del self._cache[key]
        principal = await self.verifier.verify(token)  # raises Unauthorized / 503
        who = f"user:{principal.id}"
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
        until = min(float(exp), now + self.ttl_s)
        if until > now and self.ttl_s > 0:
            if len(self._cache) >= self.size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (until, principal, who)
        return principal, who
