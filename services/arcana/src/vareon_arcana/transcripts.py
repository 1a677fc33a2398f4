"""Export a chat session (JSON or Markdown; the active branch or the whole tree, with
receipts) and import a JSON export as a new session of the importer."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana import branches, sessions
from vareon_arcana.errors import InvalidTranscript
from vareon_arcana.models import ChatSession, Message
from vareon_arcana.transcript_schemas import (
    Transcript,
    TranscriptFeedback,
    TranscriptMessage,
    TranscriptReceipt,
    TranscriptSession,
)


def _message(m: Message) -> TranscriptMessage:
    receipt = None
    if m.role == "assistant":
        receipt = TranscriptReceipt(
            provider=m.provider,
            model=m.model,
            tokens_in=m.tokens_in,
            tokens_out=m.tokens_out,
            cost=m.cost,
            usage_id=m.usage_id,
        )
    feedback = None
    if m.feedback_rating in ("up", "down"):
        feedback = TranscriptFeedback(
            rating="up" if m.feedback_rating == "up" else "down", comment=m.feedback_comment
        )
    return TranscriptMessage(
        id=m.id,
        parent_id=m.parent_id,
        role="assistant" if m.role == "assistant" else "user",
        content=m.content,
        status=m.status,
        created_at=m.created_at,
        receipt=receipt,
        feedback=feedback,
    )


async def export(session: AsyncSession, chat: ChatSession, *, tree: bool) -> Transcript:
    if tree:
        messages = [p.message for p in await branches.tree(session, chat)]
    else:
        messages = await branches.active(session, chat)
    return Transcript(
        session=TranscriptSession(
            title=chat.title,
            category=chat.category,
            language=chat.language,
            notes=chat.notes,
            created_at=chat.created_at,
        ),
        current_id=chat.current_id,
        tree=tree,
        messages=[_message(m) for m in messages],
    )


def markdown(transcript: Transcript) -> str:
    """A readable transcript; in a tree, each message says which one it follows."""
    numbers = {m.id: n for n, m in enumerate(transcript.messages, 1)}
    out = [f"# {transcript.session.title}", ""]
    for m in transcript.messages:
        who = "You" if m.role == "user" else "Assistant"
        follows = ""
        if transcript.tree and m.parent_id is not None:
            follows = f" (after {numbers.get(m.parent_id, '?')})"
        out += [f"## {numbers[m.id]}. {who}{follows}", "", m.content, ""]
        r = m.receipt
        if r is not None and r.model:
            out += [
                f"*{r.provider}/{r.model} · {r.tokens_in} tokens in, {r.tokens_out} out · "
                f"{r.cost} micro-credits · {m.status}*",
                "",
            ]
        if m.feedback is not None:
            out += [f"*Feedback: {m.feedback.rating} {m.feedback.comment or ''}*".rstrip(), ""]
    return "\n".join(out)


async def import_(session: AsyncSession, user_id: uuid.UUID, transcript: Transcript) -> ChatSession:
    """A new session of ``user_id`` holding the transcript's messages (new ids, the same
    shape). Receipts are kept as they were shown; nothing is charged. Only flushes."""
    given = transcript.session
    chat = await sessions.create(
        session, user_id, title=given.title, category=given.category, language=given.language
    )
    chat.notes = given.notes
    chat.titled = True
    new_ids: dict[uuid.UUID, uuid.UUID] = {}
    for m in transcript.messages:
        if m.id in new_ids:
            raise InvalidTranscript(f"the message {m.id} appears twice")
        if m.parent_id is not None and m.parent_id not in new_ids:
            raise InvalidTranscript(f"the message {m.id} follows no earlier message")
        new_ids[m.id] = uuid.uuid4()
        r = m.receipt or TranscriptReceipt()
        row = Message(
            id=new_ids[m.id],
            session_id=chat.id,
            parent_id=new_ids[m.parent_id] if m.parent_id is not None else None,
            search_config=chat.language,
            role=m.role,
            content=m.content,
            status=m.status,
            provider=r.provider,
            model=r.model,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            cost=r.cost,
        )
        if m.feedback is not None and m.role == "assistant":
            row.feedback_rating = m.feedback.rating
            row.feedback_comment = m.feedback.comment
        session.add(row)
        await session.flush()  # parents before children (the seq order is the tree's)
    if transcript.current_id is not None and transcript.current_id not in new_ids:
        raise InvalidTranscript("current_id names no message of the transcript")
    last = transcript.messages[-1].id if transcript.messages else None
    leaf = transcript.current_id or last
    chat.current_id = new_ids[leaf] if leaf is not None else None
    await session.flush()
    return chat
