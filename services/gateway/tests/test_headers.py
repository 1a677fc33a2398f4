from starlette.requests import Request
from vareon_chassis.context import request_id_var
from vareon_gateway.proxy import request_headers
from vareon_gateway.settings import GatewaySettings


def _request(headers: list[tuple[bytes, bytes]]) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/wallet",
            "scheme": "http",
            "headers": headers,
            "client": ("10.0.0.9", 5000),
            "server": ("gw", 8000),
            "query_string": b"",
        }
    )


SPOOFED = [
    (b"host", b"api.vareon.dev"),
    (b"x-forwarded-for", b"6.6.6.6"),
    (b"x-forwarded-proto", b"https"),
    (b"x-request-id", b"forged"),
    (b"te", b"trailers"),
    (b"authorization", b"Bearer t"),
]


def test_the_edge_does_not_trust_forwarded_headers_from_clients() -> None:
    token = request_id_var.set("rid-1")
    try:
        headers = dict(request_headers(_request(SPOOFED), GatewaySettings()))
    finally:
        request_id_var.reset(token)
    assert headers[b"x-forwarded-for"] == b"10.0.0.9"
    assert headers[b"x-forwarded-proto"] == b"http"
    assert headers[b"x-forwarded-host"] == b"api.vareon.dev"
    assert headers[b"x-request-id"] == b"rid-1"
    assert headers[b"authorization"] == b"Bearer t"
    assert b"host" not in headers and b"te" not in headers


def test_behind_a_trusted_proxy_the_chain_is_extended() -> None:
    settings = GatewaySettings(trust_forwarded_headers=True)
    headers = dict(request_headers(_request(SPOOFED), settings))
    assert headers[b"x-forwarded-for"] == b"6.6.6.6, 10.0.0.9"
    assert headers[b"x-forwarded-proto"] == b"https"
