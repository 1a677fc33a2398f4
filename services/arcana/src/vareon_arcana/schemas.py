"""Arcana's HTTP models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vareon_arcana.analysis import Analysis, Kind
from vareon_arcana.content import ContentType, Tone
from vareon_arcana.search import LANGUAGES

if TYPE_CHECKING:
    from vareon_arcana.calls import Receipt

MAX_MESSAGE_CHARS = 32_000


class SessionCreate(BaseModel):
    category: str = Field(min_length=1, max_length=64)
    title: str | None = Field(None, min_length=1, max_length=200)
    """None: "New chat" until the first exchange names the session."""
    language: str = Field("english", pattern="^(" + "|".join(LANGUAGES) + ")$")
    """How its messages are searched (a PostgreSQL text search configuration)."""


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    category: str
    notes: str
    language: str = "english"
    created_at: datetime
    updated_at: datetime


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class TitleUpdate(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class NotesUpdate(BaseModel):
    notes: str = Field(max_length=20_000)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    parent_id: uuid.UUID | None = None
    role: str
    content: str
    status: str
    provider: str | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost: int | None
    created_at: datetime
    feedback_rating: str | None = None
    """up or down: the user's verdict on an answer."""
    feedback_comment: str | None = None


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class MessageCreate(BaseModel):
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    stream: bool = True
    max_tokens: int | None = Field(None, ge=1, le=8_192)


class PlacedMessageOut(MessageOut):
    siblings: int
    """Messages with the same parent, this one included (more than 1: there are branches)."""
    sibling_index: int
    """This one's place among them, oldest first (0-based)."""


class BranchOut(BaseModel):
    current_id: uuid.UUID | None
    """The active branch's leaf."""
    items: list[PlacedMessageOut]


class RegenerateCreate(BaseModel):
    stream: bool = True
    max_tokens: int | None = Field(None, ge=1, le=8_192)
    model: str | None = Field(None, min_length=1, max_length=200)
    """Answer with this model (one a routing rule open to you names) instead."""
    persona: str | None = Field(None, min_length=1, max_length=64)
    """Answer as this persona (its slug) instead."""


class FeedbackUpdate(BaseModel):
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2_000)


class CurrentUpdate(BaseModel):
    message_id: uuid.UUID
    """Any message: the branch through it becomes active (down to its newest leaf)."""


class ReceiptOut(BaseModel):
    message_id: uuid.UUID | None
    usage_id: uuid.UUID | None
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: int
    """Micro-credits charged."""
    status: str

    @classmethod
    def of(cls, receipt: Receipt | None) -> ReceiptOut | None:
        return None if receipt is None else cls(**vars(receipt))


class ReplyOut(BaseModel):
    content: str
    status: str
    receipt: ReceiptOut | None
    rule: str | None
    error: str | None = None


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    category: str | None = Field(None, max_length=64)
    max_tokens: int | None = Field(None, ge=1, le=8_192)


class StatusOut(BaseModel):
    service: str
    version: str
    rules: int
    providers: dict[str, bool]
    """Provider name -> configured (has an API key)."""
    balance: dict[str, Any] | None = None


class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    content_type: ContentType
    tone: Tone = Tone.neutral
    max_length: int = Field(512, ge=16, le=4_096)
    """Most output tokens the model may write (about 0.75 English words each)."""
    category: str | None = Field(None, max_length=64)
    """Routing category; None lets the default rule decide."""


class GenerateOut(BaseModel):
    content: str
    content_type: ContentType
    tone: Tone
    status: str
    receipt: ReceiptOut | None
    rule: str | None
    error: str | None = None


class AnalyzeRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    analyses: list[Kind] = Field(min_length=1, max_length=len(Kind))
    category: str | None = Field(None, max_length=64)
    max_tokens: int = Field(1_024, ge=64, le=4_096)

    @field_validator("analyses")
    @classmethod
    def _unique(cls, kinds: list[Kind]) -> list[Kind]:
        return list(dict.fromkeys(kinds))


class AnalyzeOut(BaseModel):
    analysis: Analysis
    attempts: int
    receipts: list[ReceiptOut]
    """One per model call (a retry is a second call, and is charged too)."""
    rule: str | None


class SearchHit(BaseModel):
    message_id: uuid.UUID
    session_id: uuid.UUID
    session_title: str
    role: str
    snippet: str
    """The best fragments, matches between « and »."""
    rank: int
    """ts_rank_cd x 1,000,000: higher is better."""
    created_at: datetime


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None


class Recent(BaseModel):
    kind: Literal["chat"]
    id: uuid.UUID
    title: str
    at: datetime


class ArcanaSummary(BaseModel):
    scope: Literal["user", "platform"]
    sessions: int
    sessions_this_month: int
    messages_this_month: int
    credits_spent_this_month: int
    """Micro-credits of model usage recorded this month (UTC)."""
    personas: int
    active_users_this_month: int | None = None
    """Platform scope only."""
    recent: list[Recent] = []
