"""Trace context through an outbox row, the relay's publish and a consumer; ids in log lines."""

import json
from types import SimpleNamespace

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from vareon_chassis import telemetry
from vareon_chassis.observability import configure_logging


@pytest.fixture
def exported():
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    telemetry.export_to(processor)
    yield exporter
    telemetry.stop_exporting(processor)


def _record(topic: str, headers: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(
        topic=topic,
        partition=0,
        offset=7,
        headers=[(k, v.encode()) for k, v in headers.items()],
    )


def test_off_by_default_costs_nothing_and_passes_headers_through():
    assert not telemetry.enabled()
    row = {"ce_id": "1", "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    assert telemetry.publish_headers("svc", "t", None, row) is row
    assert telemetry.inject_trace({"ce_id": "1"}) == {"ce_id": "1"}
    with telemetry.consume_span("svc.users", _record("t", row)) as result:
        result["outcome"] = "applied"


def test_outbox_row_relay_and_consumer_are_one_trace(exported):
    tracer = telemetry.tracer("identity")
    assert tracer is not None
    with tracer.start_as_current_span("POST /auth/register", kind=SpanKind.SERVER) as request:
        row = telemetry.inject_trace({"ce_id": "e1", "ce_type": "vareon.x.y.created.v1"})
    assert row["traceparent"].split("-")[1] == format(request.get_span_context().trace_id, "032x")

    sent = telemetry.publish_headers("identity", "vareon.x", "k1", row)
    with telemetry.consume_span("wallet.users", _record("vareon.x", sent)) as result:
        follow_on = telemetry.inject_trace({"ce_id": "e2"})
        result["outcome"] = "applied"

    spans = {s.name: s for s in exported.get_finished_spans()}
    publish, consume = spans["publish vareon.x"], spans["process vareon.x"]
    assert publish.kind is SpanKind.PRODUCER and consume.kind is SpanKind.CONSUMER
    assert publish.parent.span_id == request.get_span_context().span_id
    assert consume.parent.span_id == publish.context.span_id
    assert {s.context.trace_id for s in spans.values()} == {request.get_span_context().trace_id}
    assert follow_on["traceparent"].split("-")[2] == format(consume.context.span_id, "016x")
    assert consume.resource.attributes["service.name"] == "vareon-wallet"
    assert consume.attributes["vareon.outcome"] == "applied"


def test_every_log_line_in_a_span_has_its_trace_id(exported, capsys):
    configure_logging("INFO", json=True)
    tracer = telemetry.tracer("wallet")
    assert tracer is not None
    with tracer.start_as_current_span("work") as span:
        structlog.get_logger("t").info("inside")
    structlog.get_logger("t").info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in outside
    assert not trace.get_current_span().get_span_context().is_valid


def test_log_format_env_chooses_readable_lines(monkeypatch, capsys):
    monkeypatch.setenv("VAREON_LOG_FORMAT", "console")
    configure_logging("INFO", json=True)
    structlog.get_logger("t").info("hello", request_id="r1")
    line = capsys.readouterr().err.strip()
    assert "hello" in line and "request_id=r1" in line and not line.startswith("{")


async def test_a_request_line_has_request_trace_and_user_ids_and_no_raw_path(exported, capsys):
    import httpx
    from asgi_lifespan import LifespanManager
    from fastapi import APIRouter
    from vareon_chassis.observability import bind_user
    from vareon_chassis.service import create_service
    from vareon_chassis.settings import ServiceSettings

    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        bind_user("u-1")  # what the chassis' CurrentUser does once the token is verified
        return {"id": thing_id}

    app = create_service(
        ServiceSettings(service_name="logs", log_json=True),
        title="t",
        routers=[router],
        with_database=False,
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(
                "/things/secret-looking-id?token=abc", headers={"X-Request-ID": "req-1"}
            )
            await client.get("/health/live")
    assert response.status_code == 200
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) == 1, lines  # probes are not logged
    line = requests[0]
    assert line["request_id"] == "req-1" and line["user_id"] == "u-1"
    assert line["route"] == "/things/{thing_id}" and line["status"] == 200
    assert "secret-looking-id" not in json.dumps(line) and "abc" not in json.dumps(line)
    (server,) = [s for s in exported.get_finished_spans() if s.name == "GET /things/{thing_id}"]
    assert line["trace_id"] == format(server.context.trace_id, "032x")


def test_otlp_endpoint_setting_exports_spans_over_http(monkeypatch):
    import http.server
    import threading

    received: list[tuple[str, str, int]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.headers["Content-Type"], len(self.rfile.read(length))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(telemetry, "_otlp_added", False)
    assert telemetry.export_otlp("") is None  # empty, as compose passes an unset variable
    processor = telemetry.export_otlp(f"http://127.0.0.1:{server.server_port}/")
    assert processor is not None
    try:
        tracer = telemetry.tracer("otlp-test")
        assert tracer is not None
        with tracer.start_as_current_span("exported"):
            pass
        assert processor.force_flush(10_000)
    finally:
        telemetry.stop_exporting(processor)
        processor.shutdown()
        server.shutdown()
    assert received and received[0][:2] == ("/v1/traces", "application/x-protobuf")
    assert received[0][2] > 0


def test_trace_ids_without_an_exporter_for_local_runs(monkeypatch, capsys):
    """`vareon up` sets VAREON_TRACE_IDS=1: spans are made (ids in the lines) and dropped."""
    monkeypatch.setenv("VAREON_TRACE_IDS", "1")
    monkeypatch.setattr(telemetry, "_otlp_checked", False)
    monkeypatch.setattr(telemetry, "_processors", [])
    monkeypatch.setattr(telemetry, "_providers", {})
    assert telemetry.enabled()
    configure_logging("INFO", json=True)
    tracer = telemetry.tracer("local")
    assert tracer is not None
    with tracer.start_as_current_span("request"):
        structlog.get_logger("t").info("inside")
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert len(line["trace_id"]) == 32
