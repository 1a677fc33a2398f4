from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select
from vareon_arcana.models import ShellCommand, ShellSession, UsageRecord
from vareon_chassis.testing.tokens import TestSigningKey
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .conftest import target
from .test_chat import PRICE_IN, PRICE_OUT, cost, new_session, seed


def token_of(signing_key: TestSigningKey, user: uuid.UUID) -> str:
    return signing_key.token(user)


def shell_url(arcana_url: str, sid: str) -> str:
    return arcana_url.replace("http://", "ws://") + f"/api/v1/arcana/ws/shell/{sid}"


async def receive(ws) -> dict:
    return json.loads(await ws.recv())


async def closed_with(ws) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.recv()
    return ws.close_code, ws.close_reason


async def test_shell_refuses_missing_and_forged_tokens(arcana_url, client, signing_key):
    user = uuid.uuid4()
    sid = await new_session(client, signing_key.headers(user), "shell")
    async with connect(shell_url(arcana_url, sid)) as ws:
        await ws.send("help")  # not an auth message
        assert await closed_with(ws) == (
            4401,
            'first message must be {"type": "auth", "token": ...}',
        )
    forged = TestSigningKey()  # same kid, another key
    async with connect(
        shell_url(arcana_url, sid), subprotocols=["bearer", token_of(forged, user)]
    ) as ws:
        assert ws.subprotocol == "bearer"
        assert await closed_with(ws) == (4401, "invalid token")
    async with connect(shell_url(arcana_url, sid)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "not.a.jwt"}))
        assert await closed_with(ws) == (4401, "malformed token")


async def test_shell_refuses_another_users_session(arcana_url, client, signing_key, db):
    owner, intruder = uuid.uuid4(), uuid.uuid4()
    sid = await new_session(client, signing_key.headers(owner), "shell")
    async with connect(
        shell_url(arcana_url, sid), subprotocols=["bearer", token_of(signing_key, intruder)]
    ) as ws:
        assert await closed_with(ws) == (4404, "chat session not found")
    async with db() as s:
        opened = await s.scalar(
            select(ShellSession).where(ShellSession.chat_session_id == uuid.UUID(sid))
        )
    assert opened is None


async def test_shell_commands_are_answered_charged_and_recorded(
    arcana_url, client, signing_key, publish, db, fake
):
    server, _ = fake
    user = uuid.uuid4()
    model = server.behave(f"shell-{uuid.uuid4().hex[:6]}", words=["Hi", "from", "the", "shell"])
    category = await seed(
        publish,
        db,
        user_id=user,
        available=10_000_000,
        targets=[target(model, price_in=PRICE_IN, price_out=PRICE_OUT)],
    )
    sid = await new_session(client, signing_key.headers(user), category)
    async with connect(shell_url(arcana_url, sid)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token_of(signing_key, user)}))
        ready = await receive(ws)
        assert ready["type"] == "ready" and ready["session_id"] == sid
        assert "ask <text>" in ready["text"]

        await ws.send("rm -rf /")
        assert await receive(ws) == {"type": "error", "text": "unknown command 'rm'; type help"}
        await ws.send("balance")
        balance = await receive(ws)
        assert balance["available"] == 10_000_000
        await ws.send("route tell me")
        route = await receive(ws)
        assert route["rule"] == f"rule-{category}" and route["targets"] == [f"fake/{model}"]
        await ws.send("ask say hi")
        chunks = []
        while (frame := await receive(ws))["type"] == "chunk":
            chunks.append(frame["delta"])
        assert "".join(chunks) == "Hi from the shell"
        assert frame["type"] == "done" and frame["status"] == "completed"
        receipt = frame["receipt"]
        assert receipt["cost"] == cost(100, 4) and receipt["message_id"]
        await ws.send("ask")
        assert (await receive(ws))["text"] == "ask needs text: ask <text>"
        await ws.send("exit")
        assert await receive(ws) == {"type": "bye"}
        assert await closed_with(ws) == (1000, "")

    async with db() as s:
        shell = await s.scalar(
            select(ShellSession).where(ShellSession.chat_session_id == uuid.UUID(sid))
        )
        commands = list(
            await s.scalars(
                select(ShellCommand)
                .where(ShellCommand.shell_session_id == shell.id)
                .order_by(ShellCommand.seq)
            )
        )
        usage = await s.get(UsageRecord, uuid.UUID(receipt["usage_id"]))
    assert shell.user_id == user and shell.close_reason == "exit" and shell.closed_at
    assert [(c.line, c.command, c.status) for c in commands] == [
        ("rm -rf /", None, "unknown"),
        ("balance", "balance", "ok"),
        ("route tell me", "route", "ok"),
        ("ask say hi", "ask", "ok"),
        ("ask", None, "unknown"),
        ("exit", "exit", "ok"),
    ]
    assert commands[3].usage_id == usage.id and commands[3].cost == receipt["cost"]
    assert usage.user_id == user and usage.session_id == uuid.UUID(sid)
    history = await client.get(
        f"/api/v1/arcana/sessions/{sid}/history", headers=signing_key.headers(user)
    )
    assert [m["content"] for m in history.json()["items"]] == ["say hi", "Hi from the shell"]


async def test_ask_without_credits_is_an_error_line_and_the_shell_stays_open(
    arcana_url, client, signing_key, publish, db, fake
):
    server, _ = fake
    user = uuid.uuid4()
    model = server.behave(f"shell-{uuid.uuid4().hex[:6]}")
    category = await seed(
        publish, db, user_id=user, available=1, targets=[target(model, price_in=PRICE_IN)]
    )
    sid = await new_session(client, signing_key.headers(user), category)
    async with connect(
        shell_url(arcana_url, sid), subprotocols=["bearer", token_of(signing_key, user)]
    ) as ws:
        assert (await receive(ws))["type"] == "ready"
        await ws.send("ask anything")
        error = await receive(ws)
        assert error["problem"] == "https://vareon.dev/problems/insufficient-credits"
        await ws.send("status")
        assert (await receive(ws))["command"] == "status"
    assert model not in server.calls
