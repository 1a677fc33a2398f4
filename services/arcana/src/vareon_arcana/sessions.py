"""Chat sessions: only the owner sees or touches a session (others get 404, not 403)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor, encode_cursor
from vareon_contracts.events.arcana import ChatSessionCreatedV1, ChatSessionDeletedV1

from vareon_arcana.errors import SessionNotFound
from vareon_arcana.models import OUTBOX, ChatSession, Message, Reservation


async def create(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    title: str,
    category: str,
    language: str = "english",
    titled: bool = True,
) -> ChatSession:
    """``titled``: the title is the user's (False: the first exchange names the session)."""
    chat = ChatSession(
        id=uuid.uuid4(),
        user_id=user_id,
        title=title,
        titled=titled,
        category=category,
        language=language,
        notes="",
        summary="",
        facts=[],
        folded_seq=0,
    )
    session.add(chat)
    await session.flush()
    await session.refresh(chat)
    await OUTBOX.publish(
        session,
        ChatSessionCreatedV1(
            session_id=chat.id, user_id=user_id, category=category, created_at=chat.created_at
        ),
    )
    return chat


async def owned(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, *, for_update: bool = False
) -> ChatSession:
    query = select(ChatSession).where(ChatSession.id == session_id, ChatSession.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    chat = await session.scalar(query)
    if chat is None:
        raise SessionNotFound(f"no chat session {session_id}")
    return chat


async def page(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[ChatSession], str | None]:
    """Newest first."""
    query = select(ChatSession).where(ChatSession.user_id == user_id)
    if (key := decode_cursor(cursor, datetime, uuid.UUID)) is not None:
        query = query.where(tuple_(ChatSession.created_at, ChatSession.id) < key)
    rows = list(
        await session.scalars(
            query.order_by(ChatSession.created_at.desc(), ChatSession.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].created_at, rows[-1].id) if more else None)


async def history(
    session: AsyncSession, chat: ChatSession, *, limit: int, cursor: str | None
) -> tuple[list[Message], str | None]:
    """Oldest first."""
    query = select(Message).where(Message.session_id == chat.id)
    if (key := decode_cursor(cursor, int)) is not None:
        query = query.where(Message.seq > key[0])
    rows = list(await session.scalars(query.order_by(Message.seq).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].seq) if more else None)


async def set_title(session: AsyncSession, chat: ChatSession, title: str) -> ChatSession:
    chat.title = title
    chat.titled = True
    chat.updated_at = datetime.now(UTC)
    await session.flush()
    return chat


async def set_notes(session: AsyncSession, chat: ChatSession, notes: str) -> ChatSession:
    chat.notes = notes
    chat.updated_at = datetime.now(UTC)
    await session.flush()
    return chat


async def remove(session: AsyncSession, chat: ChatSession) -> None:
    await session.execute(delete(ChatSession).where(ChatSession.id == chat.id))
    await OUTBOX.publish(
        session,
        ChatSessionDeletedV1(
            session_id=chat.id, user_id=chat.user_id, deleted_at=datetime.now(UTC)
        ),
    )


async def remove_all(session: AsyncSession, user_id: uuid.UUID) -> int:
    chats = list(await session.scalars(select(ChatSession).where(ChatSession.user_id == user_id)))
    for chat in chats:
        await remove(session, chat)
    return len(chats)


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The user was deleted: sessions and messages go (usage records stay, content-free)."""
    await remove_all(session, user_id)
    await session.execute(delete(Reservation).where(Reservation.user_id == user_id))


async def touch(session: AsyncSession, chat_id: uuid.UUID) -> None:
    await session.execute(
        update(ChatSession).where(ChatSession.id == chat_id).values(updated_at=func.now())
    )
