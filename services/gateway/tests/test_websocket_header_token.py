"""A token in the Authorization header (non-browser clients) offers no subprotocol, so none
may be selected, also when the gateway refuses the token (the handshake would fail)."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect

from .test_websocket import PATH, ShellUpstream, closed_with
from .test_websocket import stand as shell_stand  # noqa: F401 (the fixture)

HEADER = "Authorization"


async def test_a_refused_header_token_closes_4401_after_a_clean_handshake(
    shell_stand: tuple[ShellUpstream, str],  # noqa: F811
    token: Callable[..., str],
) -> None:
    """Before: the gateway accepted with ``bearer``, which the client never offered, and the
    client failed the handshake ("no subprotocols supported") instead of reading 4401."""
    shell, gateway = shell_stand
    before = shell.connections
    forged = token(key=Ed25519PrivateKey.generate())
    async with connect(gateway + PATH, additional_headers={HEADER: f"Bearer {forged}"}) as ws:
        assert ws.subprotocol is None
        assert await closed_with(ws) == (4401, "invalid token")
    assert shell.connections == before


async def test_a_valid_header_token_reaches_the_service(
    shell_stand: tuple[ShellUpstream, str],  # noqa: F811
    token: Callable[..., str],
) -> None:
    _, gateway = shell_stand
    async with connect(gateway + PATH, additional_headers={HEADER: f"Bearer {token()}"}) as ws:
        assert ws.subprotocol is None
        await ws.recv()  # the service's hello
        await ws.send("help")
        assert await ws.recv() == "echo help"
