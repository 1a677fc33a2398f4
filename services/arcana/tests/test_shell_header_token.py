"""The shell's token in an Authorization header (non-browser clients)."""

from __future__ import annotations

import uuid

from websockets.asyncio.client import connect

from .test_chat import new_session
from .test_shell import receive, shell_url, token_of


async def test_a_header_token_opens_the_shell_without_a_subprotocol(
    arcana_url, client, signing_key
):
    """The client offered no subprotocol, so the server must not select one (a client is
    right to fail a handshake that selects a subprotocol it did not offer)."""
    user = uuid.uuid4()
    sid = await new_session(client, signing_key.headers(user), "general")
    headers = {"Authorization": f"Bearer {token_of(signing_key, user)}"}
    async with connect(shell_url(arcana_url, sid), additional_headers=headers) as ws:
        assert ws.subprotocol is None
        ready = await receive(ws)
        assert ready["type"] == "ready" and ready["session_id"] == sid
