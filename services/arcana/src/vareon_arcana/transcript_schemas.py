"""A chat session as a transcript: what export writes and import reads (JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from vareon_arcana.schemas import MAX_MESSAGE_CHARS
from vareon_arcana.search import LANGUAGES

MAX_MESSAGES = 5_000


class TranscriptReceipt(BaseModel):
    provider: str | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=200)
    tokens_in: int | None = Field(None, ge=0)
    tokens_out: int | None = Field(None, ge=0)
    cost: int | None = Field(None, ge=0)
    """Micro-credits charged when it was answered (an import charges nothing)."""
    usage_id: uuid.UUID | None = None


class TranscriptFeedback(BaseModel):
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2_000)


class TranscriptMessage(BaseModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None = None
    """An earlier message of the transcript (None: the first one)."""
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS * 4)
    status: str = Field("completed", max_length=32)
    created_at: datetime | None = None
    receipt: TranscriptReceipt | None = None
    feedback: TranscriptFeedback | None = None


class TranscriptSession(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64)
    language: str = Field("english", pattern="^(" + "|".join(LANGUAGES) + ")$")
    notes: str = Field("", max_length=20_000)
    created_at: datetime | None = None


class Transcript(BaseModel):
    format: Literal["vareon.arcana.transcript.v1"] = "vareon.arcana.transcript.v1"
    session: TranscriptSession
    current_id: uuid.UUID | None = None
    """The active branch's leaf (None on import: the last message)."""
    tree: bool = False
    """True: every branch; False: the active branch only."""
    messages: list[TranscriptMessage] = Field(max_length=MAX_MESSAGES)
