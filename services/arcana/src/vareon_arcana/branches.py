"""A chat session's messages as a tree: each message follows its parent; siblings (the same
parent) are alternative branches, made by editing a question or regenerating an answer.

The session's ``current_id`` is the active branch's leaf: what ``GET .../messages`` shows,
what the next message follows and what the context memory is built from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana.errors import MessageNotFound
from vareon_arcana.models import ChatSession, Message


@dataclass(frozen=True)
class Placed:
    """A message with where it sits among its siblings (oldest first)."""

    message: Message
    siblings: int
    sibling_index: int


async def path_to(
    session: AsyncSession, chat_id: uuid.UUID, leaf: uuid.UUID | None
) -> list[Message]:
    """The messages from the first one down to ``leaf`` (none for no leaf), oldest first."""
    if leaf is None:
        return []
    up = (
        select(Message.id, Message.parent_id, literal(0).label("depth"))
        .where(Message.id == leaf, Message.session_id == chat_id)
        .cte("up", recursive=True)
    )
    up = up.union_all(
        select(Message.id, Message.parent_id, up.c.depth + 1).join(up, Message.id == up.c.parent_id)
    )
    rows = await session.scalars(
        select(Message).join(up, Message.id == up.c.id).order_by(Message.seq)
    )
    return list(rows)


async def active(session: AsyncSession, chat: ChatSession) -> list[Message]:
    return await path_to(session, chat.id, chat.current_id)


async def _shape(
    session: AsyncSession, chat_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """Every message's (id, parent_id), oldest first."""
    rows = await session.execute(
        select(Message.id, Message.parent_id)
        .where(Message.session_id == chat_id)
        .order_by(Message.seq)
    )
    return [(row[0], row[1]) for row in rows]


def _children(
    shape: list[tuple[uuid.UUID, uuid.UUID | None]],
) -> dict[uuid.UUID | None, list[uuid.UUID]]:
    children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for message_id, parent_id in shape:
        children.setdefault(parent_id, []).append(message_id)
    return children


async def placed(
    session: AsyncSession, chat_id: uuid.UUID, messages: list[Message]
) -> list[Placed]:
    children = _children(await _shape(session, chat_id))
    out = []
    for message in messages:
        family = children.get(message.parent_id, [message.id])
        out.append(Placed(message, len(family), family.index(message.id)))
    return out


async def tree(session: AsyncSession, chat: ChatSession) -> list[Placed]:
    """Every message of the session, oldest first, with its sibling counts."""
    messages = list(
        await session.scalars(
            select(Message).where(Message.session_id == chat.id).order_by(Message.seq)
        )
    )
    return await placed(session, chat.id, messages)


async def message(
    session: AsyncSession, chat: ChatSession, message_id: uuid.UUID, *, role: str | None = None
) -> Message:
    """A message of ``chat`` (of ``role`` when given), or 404."""
    found = await session.scalar(
        select(Message).where(Message.id == message_id, Message.session_id == chat.id)
    )
    if found is None or (role is not None and found.role != role):
        kind = f"{role} message" if role else "message"
        raise MessageNotFound(f"no {kind} {message_id} in this session")
    return found


async def switch(session: AsyncSession, chat: ChatSession, message_id: uuid.UUID) -> list[Message]:
    """Make the branch through ``message_id`` active: its leaf is found by following the newest
    child from it down. Returns the new active branch. Only flushes."""
    await message(session, chat, message_id)
    children = _children(await _shape(session, chat.id))
    leaf = message_id
    while children.get(leaf):
        leaf = children[leaf][-1]
    chat.current_id = leaf
    await session.flush()
    return await active(session, chat)
