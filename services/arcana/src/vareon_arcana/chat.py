"""A turn in a chat session: the context memory, the stored question, then the call.

The question, the folded summary and the facts are committed with the call's admission, so
the stored history never holds a question whose call was refused.

A turn follows a message of the session's tree (branches.py): a new message follows the
current leaf, an edited question is a sibling of the question it edits, a regenerated answer a
sibling of the answer. The context memory (summary, key facts, recent turns) is rebuilt from
the branch the turn is on, so another branch's turns never leak into it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana import branches, memory, model_names, personas, replicas, sessions
from vareon_arcana.calls import Caller, Calls, Options, Route, Stream, Turn
from vareon_arcana.models import ChatSession, Message


@dataclass(frozen=True)
class Answering:
    """Who answers a regenerated reply instead of the session's own choice."""

    model: str | None = None
    persona: str | None = None
    """A persona's slug (one the caller may use)."""


async def _admit(
    session: AsyncSession,
    calls: Calls,
    caller: Caller,
    chat: ChatSession,
    history: list[Message],
    content: str,
    options: Options,
    answering: Answering,
) -> Turn:
    """Build the context from ``history`` (the branch before ``content``), route, admit and
    keep the branch's memory on the session. Only flushes."""
    settings = calls.settings
    turns = [memory.Turn(m.role, m.content) for m in history]
    facts: list[str] = []
    for m in history:
        if m.role == "user":
            facts = memory.remember(facts, m.content)
    budgets = {
        "memory_budget": settings.memory_token_budget,
        "history_budget": settings.history_token_budget,
    }
    dropped = memory.build("", [], turns, content, **budgets).dropped
    summary = memory.fold("", dropped, settings.memory_token_budget)
    context = memory.build(summary, facts, turns[len(dropped) :], content, **budgets)
    messages = context.messages
    chosen = await calls.route(session, caller, category=chat.category, text=content)
    persona = await personas.of_session(session, chat.id)
    if answering.persona is not None:
        persona = (await personas.by_slug(session, caller, answering.persona)).current
    if persona is not None:
        messages = personas.messages(persona, messages)
        chosen = await personas.pinned_route(session, persona, chosen, calls.providers.configured)
        options = personas.options(persona, options)
    if answering.model is not None:
        chosen = await _explicit(session, calls, caller, answering.model, chosen)
    turn = await calls.admit(session, caller, messages, chosen, options, session_id=chat.id)
    chat.summary = summary
    chat.folded_seq = history[len(dropped) - 1].seq if dropped else 0
    chat.facts = memory.remember(facts, content)
    return turn


async def _explicit(
    session: AsyncSession, calls: Calls, caller: Caller, model: str, routed: Route
) -> Route:
    """The rules' target of ``model`` first (404 model-not-found when the caller has none)."""
    rules = await replicas.rules(session)
    explicit = model_names.explicit_route(model, rules, caller.roles, calls.providers)
    rest = [t for t in routed.targets if t not in explicit.targets]
    return Route(explicit.rule, [*explicit.targets, *rest], routed.inputs)


async def _ask(
    session: AsyncSession,
    calls: Calls,
    caller: Caller,
    chat: ChatSession,
    parent_id: uuid.UUID | None,
    content: str,
    options: Options,
) -> Turn:
    """A new question after ``parent_id``, answered; it becomes the current leaf."""
    history = await branches.path_to(session, chat.id, parent_id)
    turn = await _admit(session, calls, caller, chat, history, content, options, Answering())
    question = Message(
        id=uuid.uuid4(),
        session_id=chat.id,
        parent_id=parent_id,
        search_config=chat.language,
        role="user",
        content=content,
    )
    session.add(question)
    chat.current_id = question.id
    await session.flush()
    return replace(turn, reply_id=uuid.uuid4(), parent_id=question.id)


async def prepare(
    session: AsyncSession,
    calls: Calls,
    caller: Caller,
    *,
    session_id: uuid.UUID,
    content: str,
    options: Options,
) -> Turn:
    """Route and admit the turn in the caller's session after its current leaf, store the
    question. Only flushes."""
    chat = await sessions.owned(session, caller.user_id, session_id, for_update=True)
    return await _ask(session, calls, caller, chat, chat.current_id, content, options)


async def send(
    calls: Calls, caller: Caller, *, session_id: uuid.UUID, content: str, max_tokens: int | None
) -> Stream:
    """Ask in the session: the reply streams, and is stored in the session when it ends."""
    async with calls.sessionmaker.begin() as session:
        turn = await prepare(
            session,
            calls,
            caller,
            session_id=session_id,
            content=content,
            options=calls.options(max_tokens),
        )
    return await calls.open_stream(turn)


async def edit(
    calls: Calls,
    caller: Caller,
    *,
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    content: str,
    max_tokens: int | None,
) -> Stream:
    """The question ``message_id`` asked differently: a sibling question and a fresh reply."""
    async with calls.sessionmaker.begin() as session:
        chat = await sessions.owned(session, caller.user_id, session_id, for_update=True)
        edited = await branches.message(session, chat, message_id, role="user")
        options = calls.options(max_tokens)
        turn = await _ask(session, calls, caller, chat, edited.parent_id, content, options)
    return await calls.open_stream(turn)


async def regenerate(
    calls: Calls,
    caller: Caller,
    *,
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    answering: Answering,
    max_tokens: int | None,
) -> Stream:
    """Another answer to the question ``message_id`` answered: a sibling of that answer,
    optionally from another model or persona."""
    async with calls.sessionmaker.begin() as session:
        chat = await sessions.owned(session, caller.user_id, session_id, for_update=True)
        answer = await branches.message(session, chat, message_id, role="assistant")
        question = await branches.message(session, chat, answer.parent_id or message_id)
        history = await branches.path_to(session, chat.id, question.parent_id)
        options = calls.options(max_tokens)
        turn = await _admit(
            session, calls, caller, chat, history, question.content, options, answering
        )
        chat.current_id = question.id
        await session.flush()
    return await calls.open_stream(replace(turn, reply_id=uuid.uuid4(), parent_id=question.id))
