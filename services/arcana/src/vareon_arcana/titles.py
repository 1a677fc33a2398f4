"""A session's title, made after its first exchange unless one was given.

Titles are made here, deterministically, from the first question (its first sentence, at
most ``MAX_WORDS`` words, a clause cut at a comma): the cheapest model there is, free and
offline, the same words giving the same title. A title the user sets (create, ``PUT
.../title``, an import) is never replaced.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_arcana import branches
from vareon_arcana.models import ChatSession, Message

DEFAULT = "New chat"
MAX_WORDS = 7
MAX_CHARS = 80
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_FILLER = re.compile(
    r"^(hi|hello|hey|please|so|ok|okay|can you|could you|would you|tell me)\b[\s,!.]*",
    re.IGNORECASE,
)


def title_for(question: str) -> str:
    """The title a first question gives: its first sentence, filler dropped, a few words."""
    text = question.strip()
    for sentence in _SENTENCE.split(text):
        candidate = sentence.strip()
        while (stripped := _FILLER.sub("", candidate)) != candidate:
            candidate = stripped
        if re.search(r"\w", candidate):
            text = candidate
            break
    words = text.split(",")[0].split()[:MAX_WORDS]
    title = " ".join(words).strip(" .!?;:-\"'")[:MAX_CHARS].strip()
    return title[:1].upper() + title[1:] if title else DEFAULT


async def name(sessionmaker: async_sessionmaker[AsyncSession], session_id: uuid.UUID) -> None:
    """After a reply was stored: title the session from its first question when it has no
    title yet and its active branch holds a whole exchange."""
    async with sessionmaker.begin() as session:
        chat = await session.scalar(
            select(ChatSession).where(ChatSession.id == session_id).with_for_update()
        )
        if chat is None or chat.titled:
            return
        path: list[Message] = await branches.active(session, chat)
        if len(path) < 2 or path[0].role != "user" or path[1].role != "assistant":
            return
        chat.title = title_for(path[0].content)
        chat.titled = True
