"""OpenTelemetry tracing: one trace from the gateway through the outbox and Kafka to consumers.

Off unless something exports spans: ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (OTLP over HTTP), or
a test's ``export_to(processor)``. Off means no SDK provider, no instrumentation and no
middleware: every hook below returns at its first line (the gateway's speed is measured).

The W3C ``traceparent`` travels:
HTTP request -> (FastAPI/ASGI server span) -> ``Outbox.publish`` writes the current context
into the row's ``headers`` -> the relay's PRODUCER span (child of the row's context) is
written over it as the record's ``traceparent`` Kafka header (the CloudEvents distributed
tracing extension's attribute, as OpenTelemetry's Kafka instrumentations name it) -> the
consumer's CONSUMER span is a child of that producer span; events the handler publishes carry
the consumer span's context on, so a chain of events stays one trace.

Each service has its own ``TracerProvider`` (resource ``service.name``) sharing one set of
span processors, so tests that run several services in one process still tell them apart.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Histogram

TRACEPARENT = "traceparent"
TRACE_IDS_ENV = "VAREON_TRACE_IDS"
TRACESTATE = "tracestate"
_processors: list[SpanProcessor] = []
_providers: dict[str, TracerProvider] = {}
_otlp_checked = False
_otlp_added = False

EVENT_SECONDS = Histogram(
    "vareon_event_processing_seconds",
    "Time to handle one consumed event (all attempts), by outcome",
    ["consumer", "event_type", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def export_to(processor: SpanProcessor) -> None:
    """Send every service's spans to ``processor`` (tests: an in-memory exporter's)."""
    _processors.append(processor)
    for provider in _providers.values():
        provider.add_span_processor(processor)


def stop_exporting(processor: SpanProcessor) -> None:
    """Undo ``export_to`` for services created from now on (tests)."""
    with contextlib.suppress(ValueError):
        _processors.remove(processor)
    for service in [s for s, p in _providers.items() if processor in _processors_of(p)]:
        _providers.pop(service, None)


def _processors_of(provider: TracerProvider) -> Sequence[SpanProcessor]:
    return tuple(getattr(provider._active_span_processor, "_span_processors", ()))


def _otlp_from_env() -> None:
    global _otlp_checked
    if _otlp_checked:
        return
    _otlp_checked = True
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        _add_otlp(None)
    elif os.environ.get(TRACE_IDS_ENV, "").strip().lower() in ("1", "true", "yes"):
        # spans made (their ids in log lines, traceparent passed on) and dropped: for
        # `vareon up`, where following one request through the services' logs is the point
        export_to(SpanProcessor())


def export_otlp(endpoint: str | None) -> SpanProcessor | None:
    """Export over OTLP/HTTP to ``endpoint`` (the ``otlp_endpoint`` setting), once per
    process; nothing when it is unset or empty. Returns the processor it added."""
    _otlp_from_env()
    if endpoint and not _otlp_added:
        return _add_otlp(endpoint.rstrip("/") + "/v1/traces")
    return None


def _add_otlp(traces_url: str | None) -> SpanProcessor:
    global _otlp_added
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    _otlp_added = True
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url))
    export_to(processor)
    return processor


def tracer_provider(service: str) -> TracerProvider | None:
    """The service's provider, or None while tracing is off (nothing exports spans)."""
    _otlp_from_env()
    if not _processors:
        return None
    provider = _providers.get(service)
    if provider is None:
        provider = TracerProvider(resource=Resource.create({"service.name": f"vareon-{service}"}))
        for processor in _processors:
            provider.add_span_processor(processor)
        _providers[service] = provider
    return provider


def tracer(service: str) -> trace.Tracer | None:
    provider = tracer_provider(service)
    return provider.get_tracer("vareon_chassis") if provider is not None else None


def enabled() -> bool:
    _otlp_from_env()
    return bool(_processors)


def instrument_app(app: Any, service: str) -> None:
    """Server spans for a FastAPI app (named by route template; health and metrics left out)."""
    provider = tracer_provider(service)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls="/health/live,/health/ready,/metrics",
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: Any, service: str) -> None:
    """SQL statement spans on one engine (SQLAlchemy's instrumentor would patch every
    ``create_engine`` of the process, and runs once per process)."""
    tracer_ = tracer(service)
    if tracer_ is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("unused")
    EngineTracer(tracer_, getattr(engine, "sync_engine", engine), usage)


def inject_trace(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with the current trace context added (``traceparent``), when there is one."""
    if _processors:
        propagate.inject(headers)
    return headers


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, or None (for log lines)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def publish_headers(
    service: str, topic: str, key: str | None, headers: dict[str, str]
) -> dict[str, str]:
    """The Kafka headers of one outbox row: a PRODUCER span, child of the context the row was
    written in, marks the hand-off to the producer, and its context replaces the row's.

    The span ends when the record is queued; the acknowledgement is the relay's batch (its
    duration would otherwise be the slowest record's of the chunk)."""
    if not _processors:
        return headers
    tracer_ = tracer(service)
    if tracer_ is None:
        return headers
    parent = propagate.extract(headers)
    span = tracer_.start_span(
        f"publish {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "publish",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": key or "",
            "messaging.message.id": headers.get("ce_id", ""),
            "cloudevents.event_type": headers.get("ce_type", ""),
        },
    )
    out = {k: v for k, v in headers.items() if k not in (TRACEPARENT, TRACESTATE)}
    propagate.inject(out, context=trace.set_span_in_context(span))
    span.end()
    return out


def _header(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str:
    for key, value in headers or ():
        if key == name:
            return value.decode("latin-1")
    return ""


@contextlib.contextmanager
def consume_span(consumer: str, record: Any) -> Iterator[dict[str, str]]:
    """Around the handling of one record: its processing time (by event type and outcome,
    which the caller puts in the yielded dict's ``outcome``) and, when tracing is on, a
    CONSUMER span that is a child of the producer span in the record's ``traceparent``."""
    result: dict[str, str] = {"outcome": "failed"}
    event_type = _header(record.headers, "ce_type") or "?"
    started = time.perf_counter()
    tracer_ = tracer(consumer.split(".", 1)[0]) if _processors else None
    if tracer_ is None:
        try:
            yield result
        finally:
            EVENT_SECONDS.labels(consumer, event_type, result["outcome"]).observe(
                time.perf_counter() - started
            )
        return
    carrier = {
        name: _header(record.headers, name)
        for name in (TRACEPARENT, TRACESTATE)
        if _header(record.headers, name)
    }
    with tracer_.start_as_current_span(
        f"process {record.topic}",
        context=propagate.extract(carrier) if carrier else otel_context.Context(),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": consumer,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.message.id": _header(record.headers, "ce_id"),
            "cloudevents.event_type": event_type,
        },
    ) as span:
        try:
            yield result
        finally:
            outcome = result["outcome"]
            span.set_attribute("vareon.outcome", outcome)
            if outcome in ("dead-lettered", "failed"):
                span.set_status(Status(StatusCode.ERROR, outcome))
            EVENT_SECONDS.labels(consumer, event_type, outcome).observe(
                time.perf_counter() - started
            )


def add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: the current trace and span ids on every line that has them."""
    ids = current_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


@contextlib.contextmanager
def server_span(tracer_: trace.Tracer, scope: Any, name: str) -> Iterator[trace.Span]:
    """A SERVER span for a raw ASGI request, child of the client's ``traceparent`` if any
    (the gateway's edge: no Starlette middleware runs on its proxied path)."""
    carrier = {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope["headers"]
        if key in (b"traceparent", b"tracestate")
    }
    method = scope.get("method", "GET")
    with tracer_.start_as_current_span(
        f"{method} {name}",
        context=propagate.extract(carrier) if carrier else otel_context.Context(),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": scope.get("path", "")},
    ) as span:
        yield span
