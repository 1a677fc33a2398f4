from typing import Any

from vareon_gateway.proxy import request_headers, response_headers
from vareon_gateway.settings import GatewaySettings


def _text(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "scheme": "http", "headers": headers, "client": ("10.0.0.9", 5000)}


SPOOFED = [
    (b"host", b"api.vareon.dev"),
    (b"x-forwarded-for", b"6.6.6.6"),
    (b"x-forwarded-proto", b"https"),
    (b"x-request-id", b"forged"),
    (b"te", b"trailers"),
    (b"authorization", b"Bearer t"),
]


def test_the_edge_does_not_trust_forwarded_headers_from_clients() -> None:
    headers = _text(request_headers(_scope(SPOOFED), GatewaySettings(), "rid-1", "forged"))
    assert headers["x-forwarded-for"] == "10.0.0.9"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "api.vareon.dev"
    assert headers["x-request-id"] == "rid-1"
    assert headers["x-client-request-id"] == "forged"
    assert headers["authorization"] == "Bearer t"
    assert "host" not in headers and "te" not in headers


def test_behind_a_trusted_proxy_the_chain_is_extended() -> None:
    settings = GatewaySettings(trust_forwarded_headers=True)
    headers = _text(request_headers(_scope(SPOOFED), settings, "rid-1", None))
    assert headers["x-forwarded-for"] == "6.6.6.6, 10.0.0.9"
    assert headers["x-forwarded-proto"] == "https"


def test_headers_named_in_connection_are_dropped_both_ways() -> None:
    incoming = [(b"x-hop", b"1"), (b"connection", b"keep-alive, X-Hop"), (b"x-kept", b"2")]
    out = _text(request_headers(_scope(incoming), GatewaySettings(), "r", None))
    assert "x-hop" not in out and out["x-kept"] == "2"
    back = response_headers(
        [(b"X-Hop", b"1"), (b"Connection", b"x-hop"), (b"Date", b"d"), (b"X-Kept", b"2")], b"r"
    )
    assert back == [(b"x-kept", b"2"), (b"x-request-id", b"r")]
