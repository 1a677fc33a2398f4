"""The shell socket's limits: token expiry, idle and absolute lifetime, command rate."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from vareon_arcana.settings import ArcanaSettings
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from .test_chat import new_session
from .test_shell import closed_with, receive, shell_url


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    return settings.model_copy(
        update={
            "shell_idle_timeout_s": 3.0,
            "shell_max_lifetime_s": 30.0,
            "shell_commands_per_minute": 3,
        }
    )


async def opened(arcana_url, client, signing_key, expires_in: int = 600):
    user = uuid.uuid4()
    sid = await new_session(client, signing_key.headers(user), "shell")
    token = signing_key.token(user, expires_in=expires_in)
    ws = await connect(
        shell_url(arcana_url, sid), subprotocols=[Subprotocol("bearer"), Subprotocol(token)]
    )
    assert (await receive(ws))["type"] == "ready"
    return ws


async def test_the_shell_closes_when_its_token_expires(arcana_url, client, signing_key):
    """Issue 16 item 6: `ask` (paid) must stop working once the token expired."""
    ws = await opened(arcana_url, client, signing_key, expires_in=2)
    try:
        code, reason = await asyncio.wait_for(closed_with(ws), 20)
    finally:
        await ws.close()
    assert (code, reason) == (4401, "token expired")


async def test_an_idle_shell_is_closed(arcana_url, client, signing_key):
    """Issue 16 item 6: no command for the idle limit closes the socket."""
    ws = await opened(arcana_url, client, signing_key)
    try:
        code, reason = await asyncio.wait_for(closed_with(ws), 20)
    finally:
        await ws.close()
    assert (code, reason) == (4408, "idle timeout")


async def test_commands_past_the_rate_are_refused(arcana_url, client, signing_key):
    """Issue 16 item 6: a connection runs at most N commands a minute."""
    ws = await opened(arcana_url, client, signing_key)
    try:
        answers = []
        for _ in range(4):
            await ws.send("help")
            answers.append(await receive(ws))
    finally:
        await ws.close()
    assert [a["type"] for a in answers] == ["output", "output", "output", "error"]
    assert "rate" in answers[-1]["text"]
    assert json.dumps(answers[-1])
