"""The gateway's one API document against every service's own (gateway issue item 3).

Each service's real app builds its real OpenAPI document; a plain server stands in for the
service and serves that document (nothing here needs a database), and the gateway merges
them over HTTP like in production."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from vareon_gateway.app import create_app as create_gateway
from vareon_gateway.settings import SERVICES, GatewaySettings
from vareon_identity.keys import generate_signing_key


class DocumentServer:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc, self.up = doc, True
        self.app = Starlette(routes=[Route("/openapi.json", self.serve)])

    async def serve(self, request: Any) -> Response:
        return JSONResponse(self.doc) if self.up else Response(status_code=503)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: Any) -> dict[str, Any]:
    keys = tmp_path_factory.mktemp("identity-keys")
    generate_signing_key(keys)
    monkeypatch_module.setenv("IDENTITY_SIGNING_KEYS_DIR", str(keys))
    return {
        name: importlib.import_module(f"vareon_{name}.app").create_app().openapi()
        for name in SERVICES
    }


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest_asyncio.fixture(loop_scope="session")
async def stand(
    running: Callable[..., Any], documents: dict[str, Any]
) -> tuple[httpx.AsyncClient, dict[str, DocumentServer]]:
    servers = {name: DocumentServer(doc) for name, doc in documents.items()}
    urls = {f"{name}_url": await running(server.app) for name, server in servers.items()}
    settings = GatewaySettings(**urls, openapi_refresh_s=0, log_json=False, log_level="WARNING")
    gateway = await running(create_gateway(settings))
    return httpx.AsyncClient(base_url=gateway, timeout=30), servers


def _operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in doc["paths"].items()
        if path.startswith(("/api/v1/", "/.well-known/"))
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


async def test_every_operation_of_every_service_is_in_the_gateway_document(
    stand: tuple[httpx.AsyncClient, dict[str, DocumentServer]], documents: dict[str, Any]
) -> None:
    """Item 3 (one API document): before, /openapi.json listed the gateway's own 4
    operations out of the ~90 the services serve."""
    client, _ = stand
    merged = (await client.get("/openapi.json")).json()
    for name, doc in documents.items():
        missing = _operations(doc) - _operations(merged)
        assert not missing, f"{name}: {sorted(missing)[:5]}"
    assert "/api/v1/system/status" in merged["paths"]
    schemes = merged["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert merged["paths"]["/api/v1/wallet"]["get"]["security"]
    assert "security" not in merged["paths"]["/api/v1/auth/login"]["post"]
    refs = _refs(merged)
    assert refs and all(ref.split("/")[-1] in merged["components"]["schemas"] for ref in refs)
    assert all("__" in name for name in merged["components"]["schemas"])
    ids = [
        op["operationId"]
        for item in merged["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert (await client.get("/redoc")).status_code == 200


async def test_a_service_down_keeps_its_last_known_operations(
    stand: tuple[httpx.AsyncClient, dict[str, DocumentServer]], documents: dict[str, Any]
) -> None:
    client, servers = stand
    await client.get("/openapi.json")
    servers["wallet"].up = False
    try:
        merged = (await client.get("/openapi.json")).json()
    finally:
        servers["wallet"].up = True
    assert _operations(documents["wallet"]) <= _operations(merged)
    assert merged["x-vareon-services"]["wallet"]["status"] == "last-known"
    servers["wallet"].doc = {**documents["wallet"], "info": {"title": "w", "version": "2.0.0"}}
    merged = (await client.get("/openapi.json")).json()
    assert merged["x-vareon-services"]["wallet"] == {"status": "current", "version": "2.0.0"}


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += [value] if key == "$ref" else _refs(value)
    elif isinstance(node, list):
        for value in node:
            found += _refs(value)
    return found
