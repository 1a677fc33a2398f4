"""require_permission and require_any: the permission checks every service's routers use."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from vareon_chassis.auth import Principal, require_any, require_permission
from vareon_chassis.errors import PROBLEM_BASE, install_problem_handlers
from vareon_chassis.testing.tokens import TestSigningKey


@pytest.fixture
def key() -> TestSigningKey:
    return TestSigningKey()


@pytest.fixture
def app(key: TestSigningKey) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = key.verifier()

    @app.get("/write")
    async def write(user: Principal = require_permission("things:write")) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/list")
    async def listing(
        user: Principal = require_any("things:read", "things:write"),
    ) -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.mark.parametrize(
    ("path", "permissions", "status"),
    [
        ("/write", ["things:write"], 200),
        ("/write", ["things:read"], 403),
        ("/list", ["things:read"], 200),
        ("/list", ["things:write"], 200),
        ("/list", ["other:read"], 403),
        ("/list", [], 403),
    ],
)
async def test_permission_checks(
    app: FastAPI, key: TestSigningKey, path: str, permissions: list[str], status: int
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as http:
        response = await http.get(path, headers=key.headers(None, *permissions))
        assert response.status_code == status, response.text
        if status == 403:
            assert response.json()["type"] == PROBLEM_BASE + "forbidden"
        unauthenticated = await http.get(path)
        assert unauthenticated.status_code == 401


def test_require_any_needs_a_permission() -> None:
    with pytest.raises(ValueError):
        require_any()
