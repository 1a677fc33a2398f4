"""A locally generated Ed25519 key standing in for identity's JWKS in a service's own tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vareon_chassis.auth import TokenVerifier

ISSUER = "vareon-identity"
AUDIENCE = "vareon"


class TestSigningKey:
    """Mints access tokens shaped like identity's and verifies them like every service does."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**public, "kid": kid, "alg": "EdDSA", "use": "sig"}
        self.keyset = jwt.PyJWKSet([self.jwk])

    async def __call__(self, force: bool = False) -> jwt.PyJWKSet:
        """The key source a TokenVerifier asks for keys."""
        return self.keyset

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self, issuer=ISSUER, audience=AUDIENCE)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def token(
        self,
        user_id: uuid.UUID | None = None,
        permissions: Iterable[str] = (),
        roles: Iterable[str] = ("user",),
        expires_in: int = 600,
        **claims: Any,
    ) -> str:
        user_id = user_id or uuid.uuid4()
        now = int(time.time())
        body = {
            "sub": str(user_id),
            "email": f"{user_id.hex[:8]}@example.com",
            "roles": list(roles),
            "permissions": list(permissions),
            "iat": now,
            "exp": now + expires_in,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "email_verified": True,
            **claims,
        }
        return jwt.encode(body, self.private, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(
        self, user_id: uuid.UUID | None = None, *permissions: str, **claims: Any
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, permissions, **claims)}"}
