"""The shell over a WebSocket: authenticate, attach to one owned chat session, run commands.

The token comes as the chassis reads every socket's (``vareon_chassis.websocket``: the
subprotocol pair ``bearer, <token>``, an Authorization header, or a first message
``{"type": "auth", "token": "..."}``). Failures close with 4401 (token) or 4404 (session).

A shell lives no longer than its token (closed with 4401 "token expired" at ``exp``), its
absolute lifetime or its idle limit (4408), and runs at most so many commands a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import jwt
import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.errors import DomainError, Unauthorized
from vareon_chassis.websocket import (
    CLOSE_UNAUTHORIZED,
    WebSocketRefused,
    bearer_subprotocol,
    socket_token,
)

from vareon_arcana import sessions
from vareon_arcana.calls import Caller, Calls
from vareon_arcana.errors import SessionNotFound
from vareon_arcana.settings import ArcanaSettings
from vareon_arcana.shell import records
from vareon_arcana.shell.commands import COMMANDS, HELP, Shell
from vareon_arcana.shell.parser import MAX_LINE, ShellError, parse

router = APIRouter(prefix="/api/v1/arcana/ws")
log = structlog.get_logger(__name__)
CLOSE_NOT_FOUND = 4404
CLOSE_TIMEOUT = 4408


@dataclass
class Connection:
    """An open shell and what limits it: its token's expiry and its command rate."""

    shell: Shell
    socket: WebSocket
    settings: ArcanaSettings
    expires_at: float
    """Wall-clock time (epoch seconds) past which the shell must not act for its user."""
    commands: deque[float] = field(default_factory=deque)

    @property
    def calls(self) -> Calls:
        return self.shell.calls


async def _open(websocket: WebSocket, session_id: str) -> Connection:
    state = websocket.app.state
    settings: ArcanaSettings = state.settings
    calls: Calls = state.calls
    token = (await socket_token(websocket, settings.shell_auth_timeout_s)).token
    verifier: TokenVerifier = state.token_verifier
    try:
        user = await verifier.verify(token)
    except Unauthorized as exc:
        raise WebSocketRefused(CLOSE_UNAUTHORIZED, exc.detail) from None
    try:
        chat_session_id = uuid.UUID(session_id)
        async with calls.sessionmaker.begin() as db:
            owned = await sessions.owned(db, user.id, chat_session_id)
            shell_session_id = await records.open_shell(db, user.id, owned.id)
    except (ValueError, SessionNotFound):
        raise WebSocketRefused(CLOSE_NOT_FOUND, "chat session not found") from None
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]  # verified above

    async def send(kind: str, **fields: Any) -> None:
        await websocket.send_text(json.dumps({"type": kind, **fields}, default=str))

    shell = Shell(shell_session_id, Caller.of(user), owned.id, owned.category, calls, send)
    return Connection(shell, websocket, settings, float(exp))


async def _next_line(current: Connection, closes_at: float) -> str:
    """The next command line, or WebSocketRefused when the token, the lifetime or the idle
    limit ends the shell first."""
    now = time.time()
    until_end = min(current.expires_at, closes_at) - now
    if until_end <= 0:
        raise _ended(current, closes_at)
    wait = min(current.settings.shell_idle_timeout_s, until_end)
    try:
        return await asyncio.wait_for(current.socket.receive_text(), wait)
    except TimeoutError:
        if time.time() >= min(current.expires_at, closes_at):
            raise _ended(current, closes_at) from None
        raise WebSocketRefused(CLOSE_TIMEOUT, "idle timeout") from None


def _ended(current: Connection, closes_at: float) -> WebSocketRefused:
    if current.expires_at <= closes_at:
        return WebSocketRefused(CLOSE_UNAUTHORIZED, "token expired")
    return WebSocketRefused(CLOSE_TIMEOUT, "shell lifetime reached")


def _over_rate(current: Connection, per_minute: int) -> bool:
    now = time.monotonic()
    while current.commands and now - current.commands[0] >= 60:
        current.commands.popleft()
    if len(current.commands) >= per_minute:
        return True
    current.commands.append(now)
    return False


@router.websocket("/shell/{session_id}")
async def shell_socket(websocket: WebSocket, session_id: str) -> None:
    await websocket.accept(subprotocol=bearer_subprotocol(websocket))
    try:
        current = await _open(websocket, session_id)
    except WebSocketRefused as exc:
        await websocket.close(exc.code, exc.reason)
        return
    except WebSocketDisconnect:
        return
    shell = current.shell
    reason = "disconnected"
    try:
        await shell.send(
            "ready", shell_session_id=shell.id, session_id=shell.chat_session_id, text=HELP
        )
        per_minute = current.settings.shell_commands_per_minute
        closes_at = time.time() + current.settings.shell_max_lifetime_s
        while True:
            try:
                line = await _next_line(current, closes_at)
            except WebSocketRefused as exc:
                reason = exc.reason
                await websocket.close(exc.code, exc.reason)
                return
            if _over_rate(current, per_minute):
                await shell.send("error", text=f"rate limit: {per_minute} a minute")
                continue
            if await _handle(shell, line) == "exit":
                reason = "exit"
                await _close(shell, reason)  # recorded before the client sees the close
                await shell.send("bye")
                await websocket.close(1000)
                return
    except WebSocketDisconnect:
        pass
    except Exception:  # a bug must still end the connection with a close frame
        log.exception("shell failed", shell_session_id=str(shell.id))
        reason = "internal error"
        with contextlib.suppress(Exception):
            await websocket.close(1011, "internal error")
    finally:
        await _close(shell, reason)


async def _close(shell: Shell, reason: str) -> None:
    async with shell.calls.sessionmaker.begin() as db:
        await records.close_shell(db, shell.id, reason)


async def _record(
    shell: Shell, line: str, name: str | None, status: str, detail: str | None = None, **kw: Any
) -> None:
    async with shell.calls.sessionmaker.begin() as db:
        await records.record_command(db, shell.id, line[:MAX_LINE], name, status, detail, **kw)


async def _handle(shell: Shell, line: str) -> str | None:
    try:
        command = parse(line, COMMANDS)
    except ShellError as exc:
        await _record(shell, line, None, "unknown", str(exc))
        await shell.send("error", text=str(exc))
        return None
    try:
        usage = await COMMANDS[command.name].run(shell, command.text)
    except DomainError as exc:
        await _record(shell, line, command.name, "error", exc.detail)
        await shell.send("error", command=command.name, text=exc.detail, problem=exc.type)
        return None
    except WebSocketDisconnect:
        await _record(shell, line, command.name, "disconnected")
        raise
    usage_id, cost = usage or (None, None)
    await _record(shell, line, command.name, "ok", usage_id=usage_id, cost=cost)
    return command.name
