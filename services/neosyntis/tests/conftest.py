from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_contracts.events.wallet import BalanceChangedV1
from vareon_neosyntis.app import create_app
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.training import credits

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
KID = "neosyntis-test-key"
API = "/api/v1/neosyntis"
PLENTY = 10**13


class SigningKey:
    """A locally generated Ed25519 key standing in for identity's JWKS."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.keyset = jwt.PyJWKSet([{**public, "kid": KID, "alg": "EdDSA", "use": "sig"}])

    async def __call__(self, force: bool = False) -> jwt.PyJWKSet:
        return self.keyset

    def token(self, user_id: uuid.UUID, permissions: tuple[str, ...] = ()) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "email": f"{user_id.hex[:8]}@example.com",
            "roles": ["user"],
            "permissions": list(permissions),
            "iat": now,
            "exp": now + 600,
            "iss": "vareon-identity",
            "aud": "vareon",
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": KID})


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def auth(signing_key: SigningKey) -> Callable[..., dict[str, str]]:
    def headers(user_id: uuid.UUID, *permissions: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {signing_key.token(user_id, permissions)}"}

    return headers


def balance(user_id: uuid.UUID, available: int, **fields: Any) -> BalanceChangedV1:
    """What the wallet announces (a grant unless ``fields`` say otherwise)."""
    return BalanceChangedV1(
        **{
            "wallet_id": uuid.uuid4(),
            "user_id": user_id,
            "balance": available,
            "change": available,
            "reason": "test",
            "transfer_id": uuid.uuid4(),
            "changed_at": datetime.now(UTC),
            "available": available,
            "kind": "grant",
            "seq": 1,
            **fields,
        }
    )


Credit = Callable[..., Awaitable[None]]


@pytest_asyncio.fixture
async def credit(database_url: str) -> AsyncIterator[Credit]:
    """Give a user a balance through the balance consumer's own code (fast: no broker)."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    sessions = create_sessionmaker(engine)

    async def give(user_id: uuid.UUID, available: int = PLENTY) -> None:
        async with sessions.begin() as session:
            await credits.apply_balance(session, balance(user_id, available), datetime.now(UTC))

    try:
        yield give
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def user(auth: Callable[..., dict[str, str]], credit: Credit) -> dict[str, str]:
    """A user with plenty of credits."""
    user_id = uuid.uuid4()
    await credit(user_id)
    return auth(user_id)


@pytest_asyncio.fixture
async def database_url(infrastructure: Any) -> str:
    return await infrastructure.migrated_database("neosyntis", ALEMBIC_INI)


@pytest.fixture
def settings(database_url: str, infrastructure: Any, tmp_path: Path) -> NeosyntisSettings:
    return NeosyntisSettings(
        database_url=database_url,
        storage_dir=tmp_path / "storage",
        max_upload_bytes=64 * 1024 * 1024,
        **infrastructure.service_env(),
    )


@pytest_asyncio.fixture
async def app(settings: NeosyntisSettings, signing_key: SigningKey) -> AsyncIterator[Any]:
    verifier = TokenVerifier(signing_key, issuer="vareon-identity", audience="vareon")
    application = create_app(settings, token_verifier=verifier)
    async with LifespanManager(application, shutdown_timeout=30):
        yield application


@pytest_asyncio.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://neosyntis", timeout=60) as c:
        yield c
