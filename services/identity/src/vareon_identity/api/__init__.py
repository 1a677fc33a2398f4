"""Identity's HTTP routes, at the same paths as the public API (the gateway forwards as is).

Every route needs a bearer access token except register, login, token, refresh, google and
verify-email (they are how a client obtains one, or proves an address without being signed in)
and the JWKS (it is how every service verifies tokens, so it must be
readable without one). Identity checks its own tokens with its local key ring, and also checks
that the user still exists and that the token's login was not revoked.
"""

from __future__ import annotations

from fastapi import APIRouter

from vareon_identity.api import auth, keys, users

router = APIRouter(tags=["identity"])
router.include_router(auth.router)
router.include_router(keys.router)
router.include_router(users.router)
router.include_router(keys.admin)
router.include_router(users.jwks_router)
