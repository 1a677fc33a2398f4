import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from vareon_gateway.app import create_app

from .conftest import gateway_settings

PROBLEM = "application/problem+json"


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k == name]


async def test_forwards_method_path_query_headers_and_body(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.patch(
        "/api/v1/wallet/items/a%20b",
        params={"q": "x y", "n": "1"},
        content=b'{"amount": 5}',
        headers={
            "Authorization": f"Bearer {token()}",
            "Content-Type": "application/json",
            "X-Custom": "kept",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "dropped",
        },
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == "PATCH"
    assert echo["raw_path"] == "/api/v1/wallet/items/a%20b"
    assert echo["query"] == "q=x+y&n=1"
    assert echo["body"] == '{"amount": 5}'
    assert header(echo, "x-custom") == ["kept"]
    assert header(echo, "content-type") == ["application/json"]
    assert header(echo, "authorization") == [response.request.headers["authorization"]]
    assert header(echo, "x-hop") == []
    assert header(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header(echo, "x-forwarded-proto") == ["http"]
    # The gateway adds no Accept-Encoding or User-Agent of its own.
    assert header(echo, "accept-encoding") == [response.request.headers["accept-encoding"]]
    assert header(echo, "user-agent") == [response.request.headers["user-agent"]]


async def test_request_body_is_streamed_to_the_service(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"part{i};".encode()
            await asyncio.sleep(0.01)

    response = await gateway.post(
        "/api/v1/myntrix/upload", content=body(), headers={"Authorization": f"Bearer {token()}"}
    )
    assert response.status_code == 200
    assert response.json()["body"] == "part0;part1;part2;part3;part4;"


async def test_duplicate_response_headers_survive(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.get(
        "/api/v1/wallet/cookie", headers={"Authorization": f"Bearer {token()}"}
    )
    assert len(response.headers.get_list("set-cookie")) == 2
    assert len(response.headers.get_list("date")) == 1


async def test_server_sent_events_flow_before_the_service_finishes(
    gateway: httpx.AsyncClient, upstream: Any, token: Callable[..., str]
) -> None:
    service, _ = upstream
    service.stream_may_finish.clear()
    service.stream_finished.clear()
    async with gateway.stream(
        "GET", "/api/v1/arcana/sessions/s1/events", headers={"Authorization": f"Bearer {token()}"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        first = await asyncio.wait_for(anext(lines), 5)
        assert first == "data: first s1"
        assert not service.stream_finished.is_set()
        service.stream_may_finish.set()
        rest = [line async for line in lines if line]
    assert rest == ["data: second"]
    assert service.stream_finished.is_set()


async def test_a_client_request_id_is_kept_aside_never_the_correlation_id(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    """Item 7 (request ids and trust): before, the client's "req-abc.123" became the id the
    services logged and correlated events with."""
    response = await gateway.get(
        "/api/v1/cognisys/rules",
        headers={"Authorization": f"Bearer {token()}", "X-Request-ID": "req-abc.123"},
    )
    made = response.headers["x-request-id"]
    assert made != "req-abc.123"
    echo = response.json()
    assert header(echo, "x-request-id") == [made]
    assert header(echo, "x-client-request-id") == ["req-abc.123"]
    own = await gateway.get("/api/v1/nothing-here", headers={"X-Request-ID": "req-abc.123"})
    assert own.headers["x-request-id"] != "req-abc.123"
    assert own.json()["request_id"] == own.headers["x-request-id"]


async def test_a_request_id_is_made_when_none_is_sent(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.get(
        "/api/v1/cognisys/rules", headers={"Authorization": f"Bearer {token()}"}
    )
    made = response.headers["x-request-id"]
    assert made and header(response.json(), "x-request-id") == [made]


async def test_unknown_path_is_a_404_problem(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://vareon.dev/problems/not-found"


async def test_service_down_is_a_503_problem(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.get(
        "/api/v1/neosyntis/datasets", headers={"Authorization": f"Bearer {token()}"}
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "https://vareon.dev/problems/upstream-unavailable"
    assert problem["service"] == "neosyntis"
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_slow_service_is_a_504_problem(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    response = await gateway.get(
        "/api/v1/cognisys/slow", headers={"Authorization": f"Bearer {token()}"}
    )
    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://vareon.dev/problems/upstream-timeout"


async def test_bodies_over_the_limit_are_413_problems_even_when_streamed(
    gateway: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    """Item 6 (body limits): before, a 2 MiB body went through to the service (200)."""
    auth = {"Authorization": f"Bearer {token()}"}
    declared = await gateway.post("/api/v1/myntrix/upload", content=b"x" * 2_097_152, headers=auth)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM
    assert declared.json()["type"] == "https://vareon.dev/problems/payload-too-large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"y" * 65_536

    streamed = await gateway.post("/api/v1/myntrix/upload", content=chunks(), headers=auth)
    assert streamed.status_code == 413
    assert streamed.json()["type"] == "https://vareon.dev/problems/payload-too-large"
    within = await gateway.post("/api/v1/myntrix/upload", content=b"z" * 500_000, headers=auth)
    assert within.status_code == 200 and len(within.json()["body"]) == 500_000


async def test_a_client_leaving_mid_stream_stops_the_service_stream(
    gateway: httpx.AsyncClient, upstream: Any, token: Callable[..., str]
) -> None:
    service, _ = upstream
    service.stream_may_finish.clear()
    service.stream_finished.clear()
    service.stream_abandoned.clear()
    async with gateway.stream(
        "GET", "/api/v1/arcana/sessions/s2/events", headers={"Authorization": f"Bearer {token()}"}
    ) as response:
        assert await asyncio.wait_for(anext(response.aiter_lines()), 5) == "data: first s2"
    # the client closed its connection: the gateway drops the upstream one, the service sees it
    await asyncio.wait_for(service.stream_abandoned.wait(), 5)
    assert not service.stream_finished.is_set()


async def test_a_service_hanging_up_without_answering_is_a_503_to_retry(
    running: Callable[..., Any], upstream: Any, token: Callable[..., str]
) -> None:
    """docs/performance.md (load bench): an overloaded service that accepted and then closed
    the connection was a 502 at the gateway; clients should retry it like any 503."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = gateway_settings(upstream[1])
        settings.wallet_url = f"http://127.0.0.1:{port}"
        url = await running(create_app(settings))
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post(
                "/api/v1/wallet/credits", json={}, headers={"Authorization": f"Bearer {token()}"}
            )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "https://vareon.dev/problems/upstream-unavailable"
    finally:
        server.close()
        await server.wait_closed()
