from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from vareon_chassis.testing.tokens import TestSigningKey
from vareon_cognisys.app import create_app
from vareon_cognisys.settings import CognisysSettings

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
RULES = "/api/v1/cognisys/routing-rules"
EVALUATE = "/api/v1/cognisys/routing/evaluate"
DEFAULT_RULE_ID = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def auth(signing_key: TestSigningKey) -> Callable[..., dict[str, str]]:
    def headers(*permissions: str, roles: Iterable[str] = ("user",)) -> dict[str, str]:
        return {"Authorization": f"Bearer {signing_key.token(None, permissions, roles)}"}

    return headers


@pytest.fixture
def admin(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("routing:write", roles=("admin",))


@pytest_asyncio.fixture
async def database_url(infrastructure: Any) -> str:
    return await infrastructure.migrated_database("cognisys", ALEMBIC_INI)


@pytest.fixture
def settings(database_url: str, infrastructure: Any) -> CognisysSettings:
    return CognisysSettings(database_url=database_url, **infrastructure.service_env())


@pytest_asyncio.fixture
async def client(
    settings: CognisysSettings, signing_key: TestSigningKey
) -> AsyncIterator[httpx.AsyncClient]:
    verifier = signing_key.verifier()
    app = create_app(settings, token_verifier=verifier)
    async with LifespanManager(app, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cognisys") as c:
            yield c


def rule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "coding to the big model",
        "priority": 100,
        "conditions": {"categories": ["coding"], "keywords": ["python", "rust"]},
        "targets": [
            {
                "provider": "openai",
                "model": "gpt-big",
                "input_price_per_1k": 2500,
                "output_price_per_1k": 10000,
            },
            {
                "provider": "offline",
                "model": "vareon-offline-1",
                "input_price_per_1k": 0,
                "output_price_per_1k": 0,
            },
        ],
    }
    body.update(overrides)
    return body
