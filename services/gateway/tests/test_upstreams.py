import pytest
from vareon_gateway.upstreams import Route, is_websocket_path, resolve


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/auth/me", "identity"),
        ("/api/v1/users", "identity"),
        ("/api/v1/users/123/roles", "identity"),
        ("/.well-known/jwks.json", "identity"),
        ("/api/v1/wallet", "wallet"),
        ("/api/v1/wallet/transactions", "wallet"),
        ("/api/v1/arcana/sessions/1/messages", "arcana"),
        ("/api/v1/cognisys/routing-rules", "cognisys"),
        ("/api/v1/myntrix/agents/actions", "myntrix"),
        ("/api/v1/neosyntis/datasets/", "neosyntis"),
        # the dashboard's quick actions (docs/quick-actions.md)
        ("/api/v1/arcana/personas/1/sessions", "arcana"),
        ("/api/v1/neosyntis/workflows/1/runs", "neosyntis"),
        ("/api/v1/myntrix/deployments/my-devices", "myntrix"),
        ("/api/v1/wallet/top-up", "wallet"),
    ],
)
def test_each_prefix_belongs_to_its_service(path: str, service: str) -> None:
    route = resolve(path)
    assert route is not None and route.service == service


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/v1",
        "/api/v1/walletx",
        "/api/v1/authx/login",
        "/api/v2/wallet",
        "/api/v1/unknown",
        "/api/v1/wallet/../auth/me",
        "/api/v1/arcana/chat/demo/../../wallet",
        "api/v1/wallet",
        "/api/v1/./wallet",
    ],
)
def test_unknown_or_dotted_paths_have_no_route(path: str) -> None:
    assert resolve(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/google",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/resend-verification",
        "/api/v1/auth/login/",
        "/.well-known/jwks.json",
        "/api/v1/arcana/chat/demo",
    ],
)
def test_public_routes(path: str) -> None:
    route = resolve(path)
    assert route is not None and route.public


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/me",
        "/api/v1/auth/logout",
        "/api/v1/auth/login/extra",
        "/api/v1/users",
        "/api/v1/wallet",
        "/api/v1/arcana/chat",
        "/api/v1/arcana/chat/demo/more",
        "/api/v1/neosyntis/models",
    ],
)
def test_everything_else_needs_a_token(path: str) -> None:
    route = resolve(path)
    assert route is not None and not route.public


def test_route_is_plain_data() -> None:
    assert resolve("/api/v1/wallet") == Route("wallet", public=False)


def test_websocket_paths() -> None:
    assert is_websocket_path("/api/v1/arcana/ws/shell/abc")
    assert not is_websocket_path("/api/v1/arcana/wsx")
