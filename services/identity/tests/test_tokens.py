"""Forged and stale access tokens are refused by identity's own verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vareon_identity.keys import thumbprint
from vareon_identity.tokens import hash_refresh_token, issue_access_token, new_refresh_token

from .conftest import bearer


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_refresh_tokens_are_256_bit_and_stored_hashed():
    token, stored = new_refresh_token()
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert stored == hash_refresh_token(token) and len(stored) == 32
    assert token.encode() not in stored


@pytest.fixture
async def victim(client):
    user, tokens = await client.signed_up()
    return user, tokens


def _claims(user: dict, **overrides) -> dict:
    now = datetime.now(UTC)
    return {
        "sub": user["id"],
        "email": user["email"],
        "roles": ["admin"],
        "permissions": ["users:read"],
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "vareon-identity",
        "aud": "vareon",
        **overrides,
    }


async def _refused(client, token: str) -> None:
    response = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_genuine_token_passes(client, victim):
    _, tokens = victim
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 200


async def test_expired_token_refused(client, victim):
    user, _ = victim
    ring = client.app.state.key_ring
    past = datetime.now(UTC) - timedelta(hours=1)
    token = issue_access_token(
        ring,
        user_id=user["id"],
        email=user["email"],
        roles=["user"],
        permissions=[],
        session_id=None,
        issuer="vareon-identity",
        audience="vareon",
        ttl_s=60,
        now=past,
    )
    await _refused(client, token)


async def test_tampered_token_refused(client, victim):
    _, tokens = victim
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    claims["permissions"] = ["users:read", "users:write"]
    await _refused(client, f"{header}.{_b64(claims)}.{signature}")


async def test_alg_none_refused(client, victim):
    user, _ = victim
    kid = client.app.state.key_ring.active.kid
    claims = {
        k: (int(v.timestamp()) if isinstance(v, datetime) else v) for k, v in _claims(user).items()
    }
    await _refused(client, f"{_b64({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{_b64(claims)}.")


async def test_hs256_signed_with_the_public_key_refused(client, victim):
    user, _ = victim
    active = client.app.state.key_ring.active
    public_pem = active.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {
        k: (int(v.timestamp()) if isinstance(v, datetime) else v) for k, v in _claims(user).items()
    }
    signing_input = f"{_b64({'alg': 'HS256', 'kid': active.kid, 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    await _refused(client, f"{signing_input}.{signature}")


async def test_unknown_kid_refused(client, victim):
    user, _ = victim
    stranger = Ed25519PrivateKey.generate()
    token = jwt.encode(
        _claims(user), stranger, algorithm="EdDSA", headers={"kid": thumbprint(stranger)}
    )
    await _refused(client, token)
    active_kid = client.app.state.key_ring.active.kid
    await _refused(
        client, jwt.encode(_claims(user), stranger, algorithm="EdDSA", headers={"kid": active_kid})
    )


async def test_wrong_audience_and_garbage_refused(client, victim):
    user, _ = victim
    ring = client.app.state.key_ring
    token = issue_access_token(
        ring,
        user_id=user["id"],
        email=user["email"],
        roles=[],
        permissions=[],
        session_id=None,
        issuer="vareon-identity",
        audience="someone-else",
        ttl_s=60,
    )
    await _refused(client, token)
    await _refused(client, "not-a-jwt")
