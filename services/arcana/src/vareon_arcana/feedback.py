"""A user's verdict on an answer (thumbs up or down, an optional comment), kept on the
assistant message beside its receipt: which model answered, what it cost, how it was judged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana import branches
from vareon_arcana.models import ChatSession, Message


async def give(
    session: AsyncSession,
    chat: ChatSession,
    message_id: uuid.UUID,
    rating: str | None,
    comment: str | None,
) -> Message:
    """Set (``rating`` up/down) or clear (None) the feedback on an answer. Only flushes."""
    answer = await branches.message(session, chat, message_id, role="assistant")
    answer.feedback_rating = rating
    answer.feedback_comment = comment if rating is not None else None
    answer.feedback_at = datetime.now(UTC) if rating is not None else None
    await session.flush()
    return answer
