"""One trace from the client's request through the gateway, identity, the outbox relay, Kafka,
wallet's consumer, wallet's own balance event and arcana's consumer (issue 22)."""

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from vareon_chassis import telemetry

TRACE_ID = os.urandom(16).hex()
CLIENT_SPAN = os.urandom(8).hex()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Asked for before ``platform``: the services are built with tracing on."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    telemetry.export_to(processor)
    yield exporter
    telemetry.stop_exporting(processor)


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).removeprefix("vareon-")


def _ours(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID
    ]


async def _until(exporter: InMemorySpanExporter, found: Any, timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not found(_ours(exporter)):
        if asyncio.get_running_loop().time() > deadline:
            names = sorted(f"{_service(s)}:{s.name}" for s in _ours(exporter))
            raise AssertionError(f"trace incomplete after {timeout_s}s: {names}")
        await asyncio.sleep(0.1)


def _arcana_consumed_balance(spans: list[ReadableSpan]) -> bool:
    return any(
        s.kind is SpanKind.CONSUMER
        and (s.attributes or {}).get("messaging.consumer.group.name") == "arcana.balances"
        for s in spans
    )


async def test_register_is_one_trace_from_the_gateway_to_arcana(spans, platform):
    response = await platform.gateway.post(
        "/api/v1/auth/register",
        json={
            "email": f"trace-{TRACE_ID[:10]}@example.com",
            "password": "correct horse battery",
            "display_name": "Trace",
        },
        headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"},
    )
    assert response.status_code == 201, response.text
    await _until(spans, _arcana_consumed_balance)

    trace = _ours(spans)
    by_id = {s.context.span_id: s for s in trace}

    def chain(span: ReadableSpan) -> list[tuple[str, SpanKind, str]]:
        """(service, kind, name) from ``span`` up to the client's span."""
        out = []
        seen: ReadableSpan | None = span
        while seen is not None:
            out.append((_service(seen), seen.kind, seen.name))
            parent = seen.parent
            if parent is None:
                break
            if format(parent.span_id, "016x") == CLIENT_SPAN:
                out.append(("client", SpanKind.CLIENT, "test"))
                break
            seen = by_id.get(parent.span_id)
        return out

    arcana = next(
        s
        for s in trace
        if s.kind is SpanKind.CONSUMER
        and s.attributes.get("messaging.consumer.group.name") == "arcana.balances"
    )
    hops = [(service, kind) for service, kind, _ in chain(arcana) if kind is not SpanKind.INTERNAL]
    # every hop is a span of the same trace, each the parent of the next, back to the client
    assert hops == [
        ("arcana", SpanKind.CONSUMER),
        ("wallet", SpanKind.PRODUCER),  # the wallet relay publishes the balance event
        ("wallet", SpanKind.CONSUMER),  # wallet.users handles user.registered
        ("identity", SpanKind.PRODUCER),  # identity's relay publishes user.registered
        ("identity", SpanKind.SERVER),  # POST /auth/register (its outbox row)
        ("gateway", SpanKind.SERVER),  # the edge, whose context went upstream
        ("client", SpanKind.CLIENT),
    ], chain(arcana)
    names = {(_service(s), s.name) for s in trace}
    assert ("arcana", "process vareon.wallet.balance") in names
    assert ("wallet", "publish vareon.wallet.balance") in names
    assert ("identity", "publish vareon.identity.user") in names
    assert ("identity", "POST /api/v1/auth/register") in names
    # SQL statements of the request are spans of the trace too
    assert any(_service(s) == "identity" and s.kind is SpanKind.CLIENT for s in trace)
