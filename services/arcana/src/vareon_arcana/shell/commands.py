"""The shell's commands: ONE table of what each takes, its help, and what it does.

A command gets the open ``Shell`` and the line's text, sends its output frames, and returns
the usage it caused (a paid ``ask``) for the command's record.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from vareon_arcana import chat, credits, replicas, sessions, titles
from vareon_arcana.calls import Caller, Calls, End
from vareon_arcana.schemas import ReceiptOut

Usage = tuple[uuid.UUID | None, int | None] | None
"""(usage id, cost) of a paid call, for the command's record."""


@dataclass(frozen=True)
class Shell:
    """One open shell session: whose it is, the chat session it is attached to, its output."""

    id: uuid.UUID
    caller: Caller
    chat_session_id: uuid.UUID
    category: str
    calls: Calls
    send: Callable[..., Awaitable[None]]
    """``send(kind, **fields)``: one JSON frame to the client."""


@dataclass(frozen=True)
class Command:
    run: Callable[[Shell, str], Awaitable[Usage]]
    help: str
    takes_text: bool = False


async def _help(shell: Shell, text: str) -> Usage:
    await shell.send("output", command="help", text=HELP)
    return None


async def _exit(shell: Shell, text: str) -> Usage:
    return None


async def _balance(shell: Shell, text: str) -> Usage:
    async with shell.calls.sessionmaker() as db:
        available, spendable = await credits.balance_of(db, shell.caller.user_id)
    line = (
        "no wallet balance is known for you yet"
        if available is None
        else f"available {available} micro-credits, {spendable} spendable here"
    )
    await shell.send(
        "output", command="balance", text=line, available=available, spendable=spendable
    )
    return None


async def _sessions(shell: Shell, text: str) -> Usage:
    async with shell.calls.sessionmaker() as db:
        items, _ = await sessions.page(db, shell.caller.user_id, limit=10, cursor=None)
    lines = [f"{s.id}  {s.category:<16} {s.title}" for s in items]
    await shell.send("output", command="sessions", text="\n".join(lines) or "no sessions")
    return None


async def _route(shell: Shell, text: str) -> Usage:
    async with shell.calls.sessionmaker() as db:
        chosen = await shell.calls.route(db, shell.caller, category=shell.category, text=text)
    targets = [f"{t.provider}/{t.model}" for t in chosen.targets]
    line = f"rule {chosen.rule or '(none)'}: {', '.join(targets)}"
    await shell.send("output", command="route", text=line, rule=chosen.rule, targets=targets)
    return None


async def _status(shell: Shell, text: str) -> Usage:
    async with shell.calls.sessionmaker() as db:
        rules = await replicas.rule_count(db)
    providers = shell.calls.configured_providers()
    configured = ", ".join(n for n, ok in providers.items() if ok) or "none (offline only)"
    line = (
        f"rules {rules}; providers {configured}; shell {shell.id}; session {shell.chat_session_id}"
    )
    await shell.send("output", command="status", text=line, rules=rules, providers=providers)
    return None


async def _ask(shell: Shell, text: str) -> Usage:
    stream = await chat.send(
        shell.calls, shell.caller, session_id=shell.chat_session_id, content=text, max_tokens=None
    )
    end: End | None = None
    try:
        async for item in stream:
            if isinstance(item, End):
                end = item
            else:
                await shell.send("chunk", delta=item)
    finally:
        stream.close()
    assert end is not None
    titles.after_reply(shell.calls, stream.turn, end)
    receipt: Any = ReceiptOut.of(end.receipt)
    await shell.send(
        "done",
        status=end.status,
        error=end.error,
        receipt=None if receipt is None else receipt.model_dump(mode="json"),
    )
    return None if end.receipt is None else (end.receipt.usage_id, end.receipt.cost)


COMMANDS: dict[str, Command] = {
    "help": Command(_help, "list the commands"),
    "balance": Command(_balance, "your credits as arcana sees them"),
    "sessions": Command(_sessions, "your newest chat sessions"),
    "ask": Command(
        _ask, "ask <text>: ask the model in this session (streamed, charged like chat)", True
    ),
    "route": Command(
        _route, "route <text>: which rule and models would answer, without asking", True
    ),
    "status": Command(_status, "rules, providers and this shell"),
    "exit": Command(_exit, "close the shell"),
}
HELP = "\n".join(f"{name:<9} {command.help}" for name, command in COMMANDS.items())
