"""The platform as a user meets it: identity, wallet and the gateway as real HTTP servers on
loopback, on real PostgreSQL and the real broker."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from vareon_arcana.app import create_app as create_arcana
from vareon_arcana.settings import ArcanaSettings, ProviderSettings
from vareon_chassis.testing.fake_openai import FakeOpenAI
from vareon_chassis.testing.plugin import serve, start_groups_at_end, until_ready
from vareon_cognisys.app import create_app as create_cognisys
from vareon_cognisys.settings import CognisysSettings
from vareon_gateway.app import create_app as create_gateway
from vareon_gateway.settings import GatewaySettings
from vareon_identity.app import create_app as create_identity
from vareon_identity.keys import generate_signing_key
from vareon_identity.settings import IdentitySettings
from vareon_wallet.app import create_app as create_wallet
from vareon_wallet.settings import WalletSettings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
BONUS = 5_000_000


@dataclass
class Platform:
    gateway: httpx.AsyncClient
    identity_url: str
    wallet_url: str
    identity_db: str
    provider: FakeOpenAI
    arcana_db: str = ""
    groups: str = ""
    """The consumer group prefix of this platform's services."""

    async def register(self, email: str | None = None) -> dict[str, Any]:
        email = email or f"e2e-{uuid.uuid4().hex[:10]}@example.com"
        response = await self.gateway.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "E2E"},
        )
        assert response.status_code == 201, response.text
        return response.json()

    bonus: int = BONUS

    @staticmethod
    def bearer(tokens: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    async def wallet_with_bonus(
        self, tokens: dict[str, Any], timeout_s: float = 60.0
    ) -> dict[str, Any]:
        """Poll GET /wallet through the gateway until the signup bonus has arrived."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            response = await self.gateway.get("/api/v1/wallet", headers=self.bearer(tokens))
            if response.status_code == 200 and response.json()["posted_micro"] >= self.bonus:
                return dict(response.json())
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"no bonus after {timeout_s}s: {response.status_code} {response.text}"
                )
            await asyncio.sleep(0.2)

    async def verify_email(self, email: str) -> None:
        """Mark the address verified, as following the mailed link would."""
        await self._identity_sql(
            "UPDATE users SET email_verified_at = now() WHERE email = :email", email
        )

    async def make_admin(self, email: str) -> None:
        """Grant the admin role the way an operator's `vareon seed-admin` would."""
        await self._identity_sql(
            "INSERT INTO user_roles (user_id, role) SELECT id, 'admin' FROM users "
            "WHERE email = :email ON CONFLICT DO NOTHING",
            email,
        )

    async def _identity_sql(self, statement: str, email: str) -> None:
        engine = create_async_engine(self.identity_db)
        async with engine.begin() as conn:
            await conn.execute(text(statement), {"email": email})
        await engine.dispose()

    async def login(self, email: str) -> dict[str, Any]:
        response = await self.gateway.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return response.json()


class Servers:
    """Started one by one, stopped all at once: every service leaves its consumer groups at
    the same time (one after another took ~25 s after the broker-restart test)."""

    def __init__(self) -> None:
        self._stacks: list[contextlib.AsyncExitStack] = []

    async def serve(self, app: Any) -> str:
        stack = contextlib.AsyncExitStack()
        self._stacks.append(stack)
        return await stack.enter_async_context(serve(app))

    async def aclose(self) -> None:
        await asyncio.gather(*(s.aclose() for s in self._stacks))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def platform(infrastructure: Any, tmp_path_factory: Any) -> AsyncIterator[Platform]:
    keys = tmp_path_factory.mktemp("keys")
    generate_signing_key(keys)
    identity_db = await infrastructure.migrated_database(
        "identity", ROOT / "services/identity/alembic.ini"
    )
    wallet_db = await infrastructure.migrated_database(
        "wallet", ROOT / "services/wallet/alembic.ini"
    )
    cognisys_db = await infrastructure.migrated_database(
        "cognisys", ROOT / "services/cognisys/alembic.ini"
    )
    arcana_db = await infrastructure.migrated_database(
        "arcana", ROOT / "services/arcana/alembic.ini"
    )
    # this module's services get consumer groups of their own: no other test's app (or a
    # member the embedded broker still lists after it left) can take their partitions
    env = {**infrastructure.service_env(), "consumer_group_prefix": f"e2e-{uuid.uuid4().hex[:8]}-"}
    provider = FakeOpenAI()
    async with contextlib.AsyncExitStack() as stack:
        servers = Servers()
        stack.push_async_callback(servers.aclose)
        provider_url = await servers.serve(provider.app)
        identity = create_identity(
            IdentitySettings(
                database_url=identity_db,
                signing_keys_dir=keys,
                argon2_time_cost=1,
                argon2_memory_cost_kib=8192,
                argon2_parallelism=1,
                **env,
            )
        )
        identity_url = await servers.serve(identity)
        jwks = f"{identity_url}/.well-known/jwks.json"
        wallet = create_wallet(
            WalletSettings(
                database_url=wallet_db, jwks_url=jwks, initial_wallet_balance=BONUS, **env
            )
        )
        cognisys = create_cognisys(CognisysSettings(database_url=cognisys_db, jwks_url=jwks, **env))
        fake = {"fake": ProviderSettings(base_url=f"{provider_url}/v1", api_key="test-key")}
        arcana = create_arcana(
            ArcanaSettings(database_url=arcana_db, jwks_url=jwks, providers=fake, **env)
        )
        consuming = (wallet, arcana, cognisys)
        await start_groups_at_end(
            infrastructure.kafka_bootstrap,
            {
                env["consumer_group_prefix"] + c.name: c.topics
                for app in consuming
                for c in app.state.messaging.consumers
            },
        )
        wallet_url = await servers.serve(wallet)
        cognisys_url = await servers.serve(cognisys)
        arcana_url = await servers.serve(arcana)
        gateway_url = await servers.serve(
            create_gateway(
                GatewaySettings(
                    identity_url=identity_url,
                    wallet_url=wallet_url,
                    cognisys_url=cognisys_url,
                    arcana_url=arcana_url,
                    jwks_url=jwks,
                    # sections answer late on a loaded test machine; the deadline's effect
                    # is tested in services/gateway/tests/test_dashboard.py
                    dashboard_timeout_s=30,
                    **{k: v for k, v in env.items() if k != "database_url"},
                )
            )
        )
        # ready = every consumer joined its group and holds its partitions: what the tests
        # publish from here on reaches them, however loaded the machine is
        for url in (identity_url, wallet_url, cognisys_url, arcana_url):
            await until_ready(url)
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=gateway_url, timeout=30)
        )
        yield Platform(
            client,
            identity_url,
            wallet_url,
            identity_db,
            provider,
            arcana_db=arcana_db,
            groups=env["consumer_group_prefix"],
        )
