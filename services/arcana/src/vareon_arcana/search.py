"""Searching a user's own messages: PostgreSQL full-text search over each message's
generated ``tsvector`` (GIN-indexed), in the language of the session it was written in.

A query is ``websearch_to_tsquery`` syntax (words, ``"a phrase"``, ``or``, ``-not``); a word
ending in ``*`` is a prefix (``to_tsquery('word:*')``), which websearch syntax lacks. The
query is built once per language the user's sessions use (usually one), each matching only
messages of that language, so the index serves every one. Ranked by ``ts_rank_cd``, newest
first among equals; snippets by ``ts_headline``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor, encode_cursor

from vareon_arcana.models import ChatSession, Message

LANGUAGES = (
    "simple",
    "english",
    "german",
    "french",
    "spanish",
    "italian",
    "portuguese",
    "dutch",
    "russian",
    "swedish",
)
"""PostgreSQL's built-in text search configurations a session may use."""
HIGHLIGHT = ("«", "»")
HEADLINE = (
    f"StartSel={HIGHLIGHT[0]}, StopSel={HIGHLIGHT[1]}, MaxWords=24, MinWords=8, MaxFragments=2"
)
_PREFIX = re.compile(r"^(\w+)\*$")
SCALE = 1_000_000
"""Ranks are compared (and put in cursors) as integers: rank x SCALE."""


@dataclass(frozen=True)
class Hit:
    message_id: uuid.UUID
    session_id: uuid.UUID
    session_title: str
    role: str
    snippet: str
    rank: int
    created_at: datetime


def _split(text: str) -> tuple[str, list[str]]:
    """(the websearch part, the prefix words)."""
    words, prefixes = [], []
    for word in text.split():
        found = _PREFIX.match(word)
        if found:
            prefixes.append(found.group(1))
        else:
            words.append(word)
    return " ".join(words), prefixes


def _query(language: str, text: str) -> ColumnElement[Any]:
    config = cast(language, REGCONFIG)
    words, prefixes = _split(text)
    query: ColumnElement[Any] = func.websearch_to_tsquery(config, words)
    for prefix in prefixes:
        query = query.op("&&")(func.to_tsquery(config, prefix + ":*"))
    return query


async def find(
    session: AsyncSession, user_id: uuid.UUID, text: str, *, limit: int, cursor: str | None
) -> tuple[list[Hit], str | None]:
    languages = [
        language
        for language in await session.scalars(
            select(ChatSession.language).where(ChatSession.user_id == user_id).distinct()
        )
        if language in LANGUAGES
    ]
    if not languages:
        return [], None
    matches, ranks, snippets = [], [], []
    for language in languages:
        query = _query(language, text)
        same = Message.search_config == cast(language, REGCONFIG)
        match = and_(same, Message.search_vector.op("@@")(query))
        matches.append(match)
        ranks.append((same, func.ts_rank_cd(Message.search_vector, query)))
        headline = func.ts_headline(cast(language, REGCONFIG), Message.content, query, HEADLINE)
        snippets.append((same, headline))
    rank = cast(func.round(case(*ranks, else_=0.0) * SCALE), BigInteger)
    filtered = (
        select(Message.id, Message.seq, rank.label("rank"))
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(ChatSession.user_id == user_id, or_(*matches))
        .subquery()
    )
    ranked = select(filtered)
    if (key := decode_cursor(cursor, int, int)) is not None:
        ranked = ranked.where(tuple_(filtered.c.rank, filtered.c.seq) < key)
    order = (filtered.c.rank.desc(), filtered.c.seq.desc())
    page = ranked.order_by(*order).limit(limit + 1).subquery()
    rows = (
        await session.execute(
            select(
                Message.id,
                Message.session_id,
                ChatSession.title,
                Message.role,
                case(*snippets, else_=Message.content),
                page.c.rank,
                Message.created_at,
                page.c.seq,
            )
            .join(page, page.c.id == Message.id)
            .join(ChatSession, ChatSession.id == Message.session_id)
            .order_by(page.c.rank.desc(), page.c.seq.desc())
        )
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    hits = [Hit(*row[:7]) for row in rows]
    return hits, (encode_cursor(rows[-1][5], rows[-1][7]) if more else None)
