"""Issue 23 item 1: unstorable input is a 422 naming the field; a 500 names its request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Form, Query
from pydantic import BaseModel
from vareon_chassis.errors import PROBLEM_JSON
from vareon_chassis.observability import configure_logging
from vareon_chassis.pagination import decode_cursor, encode_cursor
from vareon_chassis.service import create_service
from vareon_chassis.settings import ServiceSettings

router = APIRouter()


class Item(BaseModel):
    name: str
    tags: list[str] = []
    count: int = 0
    meta: dict[str, Any] = {}


@router.post("/items/{slug}")
async def create_item(slug: str, item: Item, n: int = 0, q: str = "") -> dict[str, Any]:
    return {"slug": slug, "n": n, "q": q, **item.model_dump()}


@router.post("/form")
async def form(name: Annotated[str, Form()]) -> dict[str, str]:
    return {"name": name}


@router.get("/page")
async def page(cursor: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    after = decode_cursor(cursor, int, str) if cursor is not None else None
    return {"after": list(map(str, after)) if after else None}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("kaboom")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(service_name="hygiene", log_json=False, log_level="INFO")
    app = create_service(settings, title="hygiene", routers=[router], with_database=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hygiene") as c:
        yield c


def _refused(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert [e["loc"] for e in body["errors"]] == [loc], body


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "a\x00b"}, ["body", "name"]),
        ({"name": "ok", "tags": ["fine", "\ud800"]}, ["body", "tags", 1]),
        ({"name": "ok", "count": 10**21}, ["body", "count"]),
        ({"name": "ok", "count": -(2**63) - 1}, ["body", "count"]),
        ({"name": "ok", "meta": {"k\x00": 1}}, ["body", "meta", "k\x00"]),
    ],
)
async def test_unstorable_body_values_are_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any]
) -> None:
    """Issue 23 item 1: NUL, lone surrogates and integers past bigint in a JSON body."""
    raw = json.dumps(body).encode()  # ASCII escapes: a lone surrogate travels as \ud800
    response = await client.post(
        "/items/s", content=raw, headers={"content-type": "application/json"}
    )
    _refused(response, loc)


async def test_bigint_edges_are_accepted(client: httpx.AsyncClient) -> None:
    for n in (2**63 - 1, -(2**63)):
        response = await client.post(f"/items/s?n={n}", json={"name": "ok", "count": n})
        assert response.status_code == 200, response.text
        assert response.json()["count"] == n == response.json()["n"]


async def test_unstorable_query_and_path_values_are_422(client: httpx.AsyncClient) -> None:
    """Issue 23 item 1: the same refusal for query, path and form values."""
    _refused(await client.post("/items/s?q=a%00b", json={"name": "ok"}), ["query", "q"])
    _refused(await client.post("/items/s?n=1" + "0" * 21, json={"name": "ok"}), ["query", "n"])
    _refused(await client.post("/items/a%00b", json={"name": "ok"}), ["path", "slug"])
    _refused(await client.post("/form", data={"name": "a\x00b"}), ["body", "name"])


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGEgY3Vyc29y", encode_cursor("x", 1)])
async def test_empty_or_malformed_cursor_is_invalid_cursor(
    client: httpx.AsyncClient, cursor: str
) -> None:
    """Issue 23 item 1: one cursor implementation; anything it did not make is 422."""
    response = await client.get("/page", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://vareon.dev/problems/invalid-cursor"


async def test_a_cursor_round_trips(client: httpx.AsyncClient) -> None:
    response = await client.get("/page", params={"cursor": encode_cursor(7, "x|y")})
    assert response.json() == {"after": ["7", "x|y"]}


async def test_a_500_carries_the_request_id_and_the_log_has_the_traceback(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23 item 1: the 500 problem said ``"request_id": null``."""
    configure_logging("INFO", json=True)  # onto this test's captured stderr
    response = await client.get("/boom", headers={"X-Request-ID": "rid-boom-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["request_id"] == "rid-boom-1"
    assert response.headers["x-request-id"] == "rid-boom-1"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    (logged,) = [line for line in lines if line["event"] == "unhandled error"]
    assert logged["request_id"] == "rid-boom-1"
    assert "Traceback" in logged["exception"] and "RuntimeError: kaboom" in logged["exception"]
