"""The shell over a WebSocket: authenticate, attach to one owned chat session, run commands.

The token comes as the subprotocol pair ``bearer, <token>`` (browsers cannot set headers on a
WebSocket; the server answers with ``bearer`` only, never echoing the token), as an
Authorization header (non-browser clients), or in the first message
``{"type": "auth", "token": "..."}``. Failures close with 4401 (token) or 4404 (session).

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
from starlette.datastructures import State
from vareon_chassis.auth import Principal, TokenVerifier
from vareon_chassis.errors import DomainError, Unauthorized

from vareon_arcana import chat, credits, sessions, shell, terminal
from vareon_arcana.api import receipt_of, start_call
from vareon_arcana.errors import SessionNotFound
from vareon_arcana.settings import ArcanaSettings

router = APIRouter(prefix="/api/v1/arcana/ws")
log = structlog.get_logger(__name__)
BEARER = "bearer"
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TIMEOUT = 4408


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Shell:
    id: uuid.UUID
    user: Principal
    chat_id: uuid.UUID
    category: str
    socket: WebSocket
    expires_at: float
    """Wall-clock time (epoch seconds) past which the shell must not act for its user."""
    commands: deque[float] = field(default_factory=deque)

    @property
    def state(self) -> State:
        return self.socket.app.state

    async def send(self, kind: str, **fields: Any) -> None:
        await self.socket.send_text(json.dumps({"type": kind, **fields}, default=str))


def _offered_token(websocket: WebSocket) -> str | None:
    offered = [p.strip() for p in websocket.scope.get("subprotocols") or []]
    if len(offered) == 2 and offered[0].lower() == BEARER:
        return offered[1]
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == BEARER and token.strip() else None


async def _token(websocket: WebSocket, timeout_s: float) -> str:
    try:
        first = await asyncio.wait_for(websocket.receive_text(), timeout_s)
    except TimeoutError:
        raise Refused(CLOSE_UNAUTHORIZED, "no token in time") from None
    try:
        message = json.loads(first)
    except ValueError:
        message = None
    if not (isinstance(message, dict) and message.get("type") == "auth"):
        raise Refused(CLOSE_UNAUTHORIZED, 'first message must be {"type": "auth", "token": ...}')
    token = message.get("token")
    if not isinstance(token, str) or not token:
        raise Refused(CLOSE_UNAUTHORIZED, "bearer token required")
    return token


async def _open(websocket: WebSocket, session_id: str) -> Shell:
    state = websocket.app.state
    settings: ArcanaSettings = state.settings
    token = _offered_token(websocket) or await _token(websocket, settings.shell_auth_timeout_s)
    verifier: TokenVerifier = state.token_verifier
    try:
        user = await verifier.verify(token)
    except Unauthorized as exc:
        raise Refused(CLOSE_UNAUTHORIZED, exc.detail) from None
    try:
        chat_id = uuid.UUID(session_id)
        async with state.sessionmaker.begin() as db:
            owned = await sessions.owned(db, user.id, chat_id)
            shell_id = await terminal.open_shell(db, user.id, owned.id)
    except (ValueError, SessionNotFound):
        raise Refused(CLOSE_NOT_FOUND, "chat session not found") from None
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]  # verified above
    return Shell(shell_id, user, owned.id, owned.category, websocket, float(exp))


async def _next_line(current: Shell, settings: ArcanaSettings, closes_at: float) -> str:
    """The next command line, or Refused when the token, the lifetime or the idle limit
    ends the shell first."""
    now = time.time()
    until_end = min(current.expires_at, closes_at) - now
    if until_end <= 0:
        raise _ended(current, closes_at)
    wait = min(settings.shell_idle_timeout_s, until_end)
    try:
        return await asyncio.wait_for(current.socket.receive_text(), wait)
    except TimeoutError:
        if time.time() >= min(current.expires_at, closes_at):
            raise _ended(current, closes_at) from None
        raise Refused(CLOSE_TIMEOUT, "idle timeout") from None


def _ended(current: Shell, closes_at: float) -> Refused:
    if current.expires_at <= closes_at:
        return Refused(CLOSE_UNAUTHORIZED, "token expired")
    return Refused(CLOSE_TIMEOUT, "shell lifetime reached")


def _over_rate(current: Shell, per_minute: int) -> bool:
    now = time.monotonic()
    while current.commands and now - current.commands[0] >= 60:
        current.commands.popleft()
    if len(current.commands) >= per_minute:
        return True
    current.commands.append(now)
    return False


@router.websocket("/shell/{session_id}")
async def shell_socket(websocket: WebSocket, session_id: str) -> None:
    await websocket.accept(subprotocol=BEARER if _offered_token(websocket) else None)
    try:
        current = await _open(websocket, session_id)
    except Refused as exc:
        await websocket.close(exc.code, exc.reason)
        return
    except WebSocketDisconnect:
        return
    reason = "disconnected"
    try:
        await current.send(
            "ready", shell_session_id=current.id, session_id=current.chat_id, text=shell.HELP
        )
        settings: ArcanaSettings = current.state.settings
        closes_at = time.time() + settings.shell_max_lifetime_s
        while True:
            try:
                line = await _next_line(current, settings, closes_at)
            except Refused as exc:
                reason = exc.reason
                await websocket.close(exc.code, exc.reason)
                return
            if _over_rate(current, settings.shell_commands_per_minute):
                await current.send(
                    "error", text=f"rate limit: {settings.shell_commands_per_minute} a minute"
                )
                continue
            if await _handle(current, line) == "exit":
                reason = "exit"
                await _close(current, reason)  # recorded before the client sees the close
                await current.send("bye")
                await websocket.close(1000)
                return
    except WebSocketDisconnect:
        pass
    except Exception:  # a bug must still end the connection with a close frame
        log.exception("shell failed", shell_session_id=str(current.id))
        reason = "internal error"
        with contextlib.suppress(Exception):
            await websocket.close(1011, "internal error")
    finally:
        await _close(current, reason)


async def _close(current: Shell, reason: str) -> None:
    async with current.state.sessionmaker.begin() as db:
        await terminal.close_shell(db, current.id, reason)


async def _record(
    current: Shell, line: str, name: str | None, status: str, detail: str | None = None, **kw: Any
) -> None:
    async with current.state.sessionmaker.begin() as db:
        await terminal.record(db, current.id, line[: shell.MAX_LINE], name, status, detail, **kw)


async def _handle(current: Shell, line: str) -> str | None:
    try:
        command = shell.parse(line)
    except shell.ShellError as exc:
        await _record(current, line, None, "unknown", str(exc))
        await current.send("error", text=str(exc))
        return None
    try:
        usage = await COMMANDS[command.name](current, command.text)
    except DomainError as exc:
        await _record(current, line, command.name, "error", exc.detail)
        await current.send("error", command=command.name, text=exc.detail, problem=exc.type)
        return None
    except WebSocketDisconnect:
        await _record(current, line, command.name, "disconnected")
        raise
    usage_id, cost = usage or (None, None)
    await _record(current, line, command.name, "ok", usage_id=usage_id, cost=cost)
    return command.name


Usage = tuple[uuid.UUID | None, int | None] | None


async def _help(current: Shell, text: str) -> Usage:
    await current.send("output", command="help", text=shell.HELP)
    return None


async def _exit(current: Shell, text: str) -> Usage:
    return None


async def _balance(current: Shell, text: str) -> Usage:
    async with current.state.sessionmaker() as db:
        available, spendable = await credits.balance_of(db, current.user.id)
    line = (
        "no wallet balance is known for you yet"
        if available is None
        else f"available {available} micro-credits, {spendable} spendable here"
    )
    await current.send(
        "output", command="balance", text=line, available=available, spendable=spendable
    )
    return None


async def _sessions(current: Shell, text: str) -> Usage:
    async with current.state.sessionmaker() as db:
        items, _ = await sessions.page(db, current.user.id, limit=10, cursor=None)
    lines = [f"{s.id}  {s.category:<16} {s.title}" for s in items]
    await current.send("output", command="sessions", text="\n".join(lines) or "no sessions")
    return None


async def _route(current: Shell, text: str) -> Usage:
    async with current.state.sessionmaker() as db:
        chosen = await chat.route(
            db,
            current.state.providers,
            category=current.category,
            roles=frozenset(current.user.roles),
            text=text,
            budget_s=current.state.settings.routing_budget_s,
        )
    targets = [f"{t.provider}/{t.model}" for t in chosen.targets]
    line = f"rule {chosen.rule or '(none)'}: {', '.join(targets)}"
    await current.send("output", command="route", text=line, rule=chosen.rule, targets=targets)
    return None


async def _status(current: Shell, text: str) -> Usage:
    settings: ArcanaSettings = current.state.settings
    async with current.state.sessionmaker() as db:
        rules = await terminal.rule_count(db)
    providers = {n: current.state.providers.configured(n) for n in settings.providers}
    configured = ", ".join(n for n, ok in providers.items() if ok) or "none (offline only)"
    line = f"rules {rules}; providers {configured}; shell {current.id}; session {current.chat_id}"
    await current.send("output", command="status", text=line, rules=rules, providers=providers)
    return None


async def _ask(current: Shell, text: str) -> Usage:
    state = current.state
    settings: ArcanaSettings = state.settings
    async with state.sessionmaker.begin() as db:
        turn = await chat.prepare(
            db,
            settings,
            state.providers,
            user_id=current.user.id,
            roles=frozenset(current.user.roles),
            email_verified=current.user.email_verified,
            session_id=current.chat_id,
            content=text,
            max_tokens=settings.max_output_tokens,
        )
    call, item = await start_call(current.socket, turn)
    try:
        while not isinstance(item, chat.End):
            await current.send("chunk", delta=item)
            item = await call.next()
    finally:
        if not call.ended:
            call.stop()
    receipt = receipt_of(item)
    await current.send("done", status=item.status, error=item.error, receipt=receipt)
    if item.receipt is None:
        return None
    return item.receipt.usage_id, item.receipt.cost


COMMANDS = {
    "help": _help,
    "balance": _balance,
    "sessions": _sessions,
    "ask": _ask,
    "route": _route,
    "status": _status,
    "exit": _exit,
}
