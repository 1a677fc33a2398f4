"""A turn in a chat session: the context memory, the stored question, then the call.

The question, the folded summary and the facts are committed with the call's admission, so
the stored history never holds a question whose call was refused.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana import memory, personas, sessions
from vareon_arcana.calls import Caller, Calls, Options, Stream, Turn
from vareon_arcana.models import Message


async def prepare(
    session: AsyncSession,
    calls: Calls,
    caller: Caller,
    *,
    session_id: uuid.UUID,
    content: str,
    options: Options,
) -> Turn:
    """Route and admit the turn in the caller's session, store the question. Only flushes."""
    settings = calls.settings
    chat = await sessions.owned(session, caller.user_id, session_id, for_update=True)
    past = list(
        await session.scalars(
            select(Message)
            .where(Message.session_id == chat.id, Message.seq > chat.folded_seq)
            .order_by(Message.seq)
        )
    )
    context = memory.build(
        chat.summary,
        list(chat.facts),
        [memory.Turn(m.role, m.content) for m in past],
        content,
        memory_budget=settings.memory_token_budget,
        history_budget=settings.history_token_budget,
    )
    messages = context.messages
    chosen = await calls.route(session, caller, category=chat.category, text=content)
    persona = await personas.of_session(session, chat.id)
    if persona is not None:
        messages = personas.messages(persona, messages)
        chosen = await personas.pinned_route(session, persona, chosen, calls.providers.configured)
        options = personas.options(persona, options)
    turn = await calls.admit(session, caller, messages, chosen, options, session_id=chat.id)
    if context.dropped:
        chat.summary = memory.fold(chat.summary, context.dropped, settings.memory_token_budget)
        chat.folded_seq = past[len(context.dropped) - 1].seq
    chat.facts = memory.remember(list(chat.facts), content)
    session.add(Message(id=uuid.uuid4(), session_id=chat.id, role="user", content=content))
    await session.flush()
    return turn


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
