from __future__ import annotations

import time
from typing import Any

import jwt
import psycopg
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from vareon_contracts import topics

from .conftest import PASSWORD, Client, bearer

CLIENT_ID = "1234-test.apps.googleusercontent.com"
KID = "google-test-key"
INVALID = "https://vareon.dev/problems/invalid-google-token"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="module")
def google_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def id_token(key: rsa.RSAPrivateKey, address: str, sub: str = "g-1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": CLIENT_ID,
        "sub": sub,
        "email": address,
        "email_verified": True,
        "name": "Grace Hopper",
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


@pytest_asyncio.fixture(loop_scope="session")
async def google(settings, running, google_key):
    """Identity with Google sign-in on, trusting a JWKS served on loopback."""
    from asgi_lifespan import LifespanManager
    from httpx import ASGITransport
    from vareon_identity.app import create_app

    jwks = FastAPI()
    public = jwt.algorithms.RSAAlgorithm.to_jwk(google_key.public_key(), as_dict=True)

    @jwks.get("/oauth2/v3/certs")
    async def certs() -> dict[str, Any]:
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    base = await running(jwks)
    app = create_app(
        settings.model_copy(
            update={"google_client_id": CLIENT_ID, "google_jwks_url": base + "/oauth2/v3/certs"}
        )
    )
    async with LifespanManager(app, shutdown_timeout=30):
        async with Client(transport=ASGITransport(app=app), base_url="http://identity") as http:
            http.app = app
            yield http


async def sign_in(http: Client, token: str) -> Any:
    return await http.post("/api/v1/auth/google", json={"id_token": token})


async def test_a_new_google_user_gets_a_verified_account(
    google, google_key, event_log, database_url
):
    response = await sign_in(google, id_token(google_key, "Grace@Example.com", sub="g-new"))
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["email"] == "grace@example.com"
    assert claims["email_verified"] is True
    me = (await google.get("/api/v1/auth/me", headers=bearer(response.json()))).json()
    assert me["display_name"] == "Grace Hopper"
    for verb in ("registered", "verified"):
        await event_log.wait_for(
            topics.IDENTITY_USER,
            lambda e, verb=verb: (
                e.type == f"vareon.identity.user.{verb}.v1" and e.data["user_id"] == me["id"]
            ),
        )

    again = await sign_in(
        google, id_token(google_key, "grace@example.com", sub="g-new", iss="accounts.google.com")
    )
    assert again.status_code == 200
    assert (
        jwt.decode(again.json()["access_token"], options={"verify_signature": False})["sub"]
        == me["id"]
    )
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        rows = await (
            await conn.execute("SELECT subject, user_id FROM google_identities")
        ).fetchall()
    assert [(s, str(u)) for s, u in rows] == [("g-new", me["id"])]


async def test_links_by_email_and_drops_an_unproven_password(google, google_key, mailbox):
    verified = await google.register()
    token = await mailbox.token_for(verified["email"])
    assert (await google.post("/api/v1/auth/verify-email", json={"token": token})).is_success
    linked = await sign_in(google, id_token(google_key, verified["email"], sub="g-verified"))
    assert linked.status_code == 200
    me = (await google.get("/api/v1/auth/me", headers=bearer(linked.json()))).json()
    assert me["id"] == verified["id"]
    await google.login(verified["email"])  # a verified account keeps its password

    squatted = await google.register()  # never verified: maybe not the address's owner
    taken = await sign_in(google, id_token(google_key, squatted["email"], sub="g-owner"))
    me = (await google.get("/api/v1/auth/me", headers=bearer(taken.json()))).json()
    assert me["id"] == squatted["id"]
    assert me["email_verified_at"] is not None
    login = await google.post(
        "/api/v1/auth/login", json={"email": squatted["email"], "password": PASSWORD}
    )
    assert login.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"aud": "someone-else.apps.googleusercontent.com"}, "another client"),
        ({"iss": "https://evil.example.com"}, "not issued by Google"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"email_verified": False}, "not verified"),
        ({"email": None}, "no email"),
    ],
)
async def test_bad_google_tokens_are_refused(google, google_key, overrides, detail):
    response = await sign_in(google, id_token(google_key, "x@example.com", **overrides))
    assert response.status_code == 401
    assert response.json()["type"] == INVALID
    assert detail in response.json()["detail"]


async def test_a_token_signed_by_another_key_is_refused(google):
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await sign_in(google, id_token(forged, "x@example.com"))
    assert response.status_code == 401
    assert response.json()["type"] == INVALID
    garbage = await sign_in(google, "not-a-jwt")
    assert garbage.status_code == 401


async def test_google_sign_in_is_off_without_a_client_id(client, google_key):
    response = await sign_in(client, id_token(google_key, "x@example.com"))
    assert response.status_code == 404
    assert response.json()["type"] == "https://vareon.dev/problems/google-sign-in-disabled"


async def test_a_passwordless_account_is_deleted_only_after_a_recent_login(
    google, google_key, database_url
):
    """Issue 16 item 8: without a password to re-enter, deletion needs a recent login."""
    response = await sign_in(google, id_token(google_key, "old@example.com", sub="g-old"))
    tokens = response.json()
    async with await psycopg.AsyncConnection.connect(libpq(database_url)) as conn:
        await conn.execute("UPDATE refresh_sessions SET created_at = now() - interval '1 hour'")
        await conn.commit()
    stale = await google.request("DELETE", "/api/v1/auth/me", headers=bearer(tokens), json={})
    assert stale.status_code == 401
    assert stale.json()["type"] == "https://vareon.dev/problems/recent-login-required"

    fresh = (await sign_in(google, id_token(google_key, "old@example.com", sub="g-old"))).json()
    deleted = await google.request("DELETE", "/api/v1/auth/me", headers=bearer(fresh), json={})
    assert deleted.status_code == 204
