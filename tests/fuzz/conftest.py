"""Every domain service as a real HTTP server on loopback, on the test PostgreSQL and broker,
with identity's real tokens: a verified admin's and a plain user's.

Schemathesis calls the servers synchronously (requests), so they run on an event loop of
their own in a background thread for the module's life.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from vareon_arcana.app import create_app as create_arcana
from vareon_arcana.settings import ArcanaSettings, ProviderSettings
from vareon_chassis.testing.fake_openai import FakeOpenAI
from vareon_chassis.testing.plugin import serve
from vareon_cognisys.app import create_app as create_cognisys
from vareon_cognisys.settings import CognisysSettings
from vareon_identity.app import create_app as create_identity
from vareon_identity.keys import generate_signing_key
from vareon_identity.settings import IdentitySettings
from vareon_myntrix.app import create_app as create_myntrix
from vareon_myntrix.settings import MyntrixSettings
from vareon_neosyntis.app import create_app as create_neosyntis
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_wallet.app import create_app as create_wallet
from vareon_wallet.settings import WalletSettings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
SERVICES = ("identity", "wallet", "cognisys", "arcana", "myntrix", "neosyntis")


@dataclass
class Platform:
    urls: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    """``{"admin": access token, "user": access token}``, both minted by identity."""


async def _migrated(infrastructure: Any) -> dict[str, str]:
    return {
        name: await infrastructure.migrated_database(name, ROOT / f"services/{name}/alembic.ini")
        for name in SERVICES
    }


def _apps(
    dbs: dict[str, str], env: dict[str, Any], tmp: Path, identity_url: str, provider_url: str
) -> dict[str, Any]:
    jwks = {"jwks_url": f"{identity_url}/.well-known/jwks.json", **env}
    fake = {"fake": ProviderSettings(base_url=f"{provider_url}/v1", api_key="test-key")}
    return {
        "wallet": create_wallet(WalletSettings(database_url=dbs["wallet"], **jwks)),
        "cognisys": create_cognisys(CognisysSettings(database_url=dbs["cognisys"], **jwks)),
        "arcana": create_arcana(
            ArcanaSettings(
                database_url=dbs["arcana"], providers=fake, provider_timeout_s=2.0, **jwks
            )
        ),
        "myntrix": create_myntrix(
            MyntrixSettings(database_url=dbs["myntrix"], run_consumers=False, **jwks)
        ),
        "neosyntis": create_neosyntis(
            NeosyntisSettings(database_url=dbs["neosyntis"], storage_dir=tmp / "storage", **jwks)
        ),
    }


async def _account(identity_url: str, identity_db: str, *, admin: bool) -> str:
    """A verified account (an admin when asked), logged in: its access token."""
    email = f"fuzz-{'admin' if admin else 'user'}-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=identity_url, timeout=30) as http:
        registered = await http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Fuzz"},
        )
        assert registered.status_code == 201, registered.text
        engine = create_async_engine(identity_db)
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE users SET email_verified_at = now() WHERE email = :e"), {"e": email}
            )
            if admin:
                await conn.execute(
                    text(
                        "INSERT INTO user_roles (user_id, role) "
                        "SELECT id, 'admin' FROM users WHERE email = :e"
                    ),
                    {"e": email},
                )
        await engine.dispose()
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return str(login.json()["access_token"])


async def _run(
    infrastructure: Any, tmp: Path, ready: Future[Platform], stop: asyncio.Event
) -> None:
    keys = tmp / "keys"
    generate_signing_key(keys)
    dbs = await _migrated(infrastructure)
    env = {
        **infrastructure.service_env(),
        "consumer_group_prefix": f"fuzz-{uuid.uuid4().hex[:8]}-",
        "log_level": "ERROR",
    }
    provider = FakeOpenAI()
    identity = create_identity(
        IdentitySettings(
            database_url=dbs["identity"],
            signing_keys_dir=keys,
            argon2_time_cost=1,
            argon2_memory_cost_kib=8192,
            argon2_parallelism=1,
            **env,
        )
    )
    async with serve(provider.app) as provider_url, serve(identity) as identity_url:
        apps = _apps(dbs, env, tmp, identity_url, provider_url)
        started: dict[str, asyncio.Future[str]] = {}

        async def run(name: str, app: Any) -> None:
            async with serve(app) as url:
                started[name].set_result(url)
                await stop.wait()

        loop = asyncio.get_running_loop()
        started = {name: loop.create_future() for name in apps}
        tasks = [asyncio.create_task(run(name, app)) for name, app in apps.items()]
        try:
            urls = {"identity": identity_url}
            for name, future in started.items():
                urls[name] = await future
            platform = Platform(urls)
            platform.tokens = {
                "admin": await _account(identity_url, dbs["identity"], admin=True),
                "user": await _account(identity_url, dbs["identity"], admin=False),
            }
            ready.set_result(platform)
            await stop.wait()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="module")
def platform(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready: Future[Platform] = Future()
    tmp = tmp_path_factory.mktemp("fuzz")

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_run(infrastructure, tmp, ready, stop))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="fuzz-platform", daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=120)
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
