"""A database that is away or out of connections is a 503 to retry, never a 500 (issue 23:
no 5xx but deliberate 503s with Retry-After; the identity sign-up storm's pool timeouts)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from sqlalchemy import text
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import PROBLEM_BASE, PROBLEM_JSON
from vareon_chassis.service import create_service
from vareon_chassis.settings import ServiceSettings

router = APIRouter()


@router.get("/now")
async def now(session: SessionDep) -> dict[str, str]:
    return {"now": str((await session.execute(text("select now()"))).scalar_one())}


@pytest_asyncio.fixture
async def missing_database(infrastructure) -> AsyncIterator[httpx.AsyncClient]:
    base, _, query = infrastructure.create_database("unavailable").partition("?")
    url = base.rsplit("/", 1)[0] + "/no_such_database?" + query  # the server answers: no
    settings = ServiceSettings(service_name="unavailable", database_url=url, log_json=False)
    app = create_service(settings, title="unavailable", routers=[router])
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


async def test_an_unreachable_database_is_a_503_problem_with_retry_after(missing_database):
    """Before: the OperationalError surfaced as a 500 internal-error."""
    response = await missing_database.get("/now")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["retry-after"]
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "database-unavailable"
    assert body["request_id"]
