"""Arcana's tables: chat sessions and messages, usage, replicas, reservations, outbox/inbox,
routing samples, personas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, REGCONFIG, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from vareon_chassis.routing_samples import RoutingSampleColumns
from vareon_chassis.tables import service_tables

TABLES = service_tables("arcana", inbox=True)
metadata, OUTBOX, INBOX = TABLES.metadata, TABLES.outbox, TABLES.inbox


class Base(DeclarativeBase):
    metadata = metadata


class ChatSession(Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (Index("ix_chat_sessions_user_created", "user_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, server_default="")
    summary: Mapped[str] = mapped_column(Text, server_default="")
    """Context memory: older turns folded into a few lines (see memory.py)."""
    facts: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    """Context memory: key facts the user stated, newest last."""
    folded_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    """Messages up to this seq are in the summary and no longer sent verbatim."""
    titled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    """The title was given (by the user, an import) or generated: no title is generated."""
    language: Mapped[str] = mapped_column(Text, server_default="english")
    """The text search configuration of its messages (search.py's LANGUAGES)."""
    current_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    """The active branch's leaf message (the tree's branches: branches.py); no foreign key,
    the messages reference the session already."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Message(Base):
    """One turn; an assistant message carries its receipt (who answered, tokens, cost)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_session_seq", "session_id", "seq"),
        Index("ix_messages_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_sessions.id", ondelete="CASCADE")
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    """The message this one follows (None: the first of its session); siblings are branches."""
    role: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="completed")
    """completed, failed (the provider broke mid-stream) or disconnected (the client left)."""
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[int | None] = mapped_column(BigInteger)
    usage_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    search_config: Mapped[str] = mapped_column(
        REGCONFIG, server_default=text("'english'::regconfig")
    )
    """Its session's language when it was written: how its words are stemmed for search."""
    feedback_rating: Mapped[str | None] = mapped_column(Text)
    """The user's verdict on an answer: up or down (None: none given)."""
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector(search_config, content)", persisted=True),
        nullable=True,
        deferred=True,
    )


class UsageRecord(Base):
    """What was billed; kept after the user's sessions are erased (it holds no content)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_user_recorded", "user_id", "recorded_at"),
        Index("ix_usage_records_user_seq", "user_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    provider: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    seq: Mapped[int | None] = mapped_column(BigInteger)
    """The user's usage sequence (UsageCounter); None for usage recorded before it existed."""


class UsageCounter(Base):
    """The last usage sequence number given to each user; its row lock orders settlements."""

    __tablename__ = "usage_counters"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class RoutingRuleReplica(Base):
    """cognisys' rules: the highest revision per rule id (tombstones kept, never resurrected)."""

    __tablename__ = "routing_rules"

    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class BalanceReplica(Base):
    """The wallet's latest balance per user; the row is the per-user admission lock."""

    __tablename__ = "balances"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    available: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    """The wallet's per-wallet sequence of this state (None from older wallets)."""
    usage_seq: Mapped[int | None] = mapped_column(BigInteger)
    """The highest usage seq the wallet included in ``available`` (None: unknown)."""


class Reservation(Base):
    """Credits held by an admitted call until it is settled."""

    __tablename__ = "reservations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShellSession(Base):
    """One WebSocket shell connection, attached to a chat session its user owns."""

    __tablename__ = "shell_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    chat_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(Text)
    """exit, disconnected, or the server's reason."""


class ShellCommand(Base):
    """Every line a shell received, in order, with how it ended."""

    __tablename__ = "shell_commands"
    __table_args__ = (Index("ix_shell_commands_shell_seq", "shell_session_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    shell_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shell_sessions.id", ondelete="CASCADE")
    )
    line: Mapped[str] = mapped_column(Text)
    command: Mapped[str | None] = mapped_column(Text)
    """The parsed command name; None when the line was not a known command."""
    status: Mapped[str] = mapped_column(Text)
    """ok, error (the command failed: no credits, no model...) or unknown."""
    detail: Mapped[str | None] = mapped_column(Text)
    usage_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    cost: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RoutingSample(RoutingSampleColumns, Base):
    """One routed call's routing inputs (never its text) and what it used; see
    routing_samples.py. Erased with the user."""

    __tablename__ = "routing_samples"
    __table_args__ = (Index("ix_routing_samples_user", "user_id"),)


class ErasedUser(Base):
    """Users identity deleted: a call of theirs settling afterwards records no sample."""

    __tablename__ = "erased_users"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Persona(Base):
    """A saved assistant; what it says and how is in its versions (the newest is current)."""

    __tablename__ = "personas"
    __table_args__ = (
        Index("uq_personas_owner_slug", "owner_id", "slug", unique=True),
        # persona:<slug> names one shared persona for everyone.
        Index(
            "uq_personas_shared_slug",
            "slug",
            unique=True,
            postgresql_where=text("visibility = 'shared'"),
        ),
        Index("ix_personas_owner_created", "owner_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    slug: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(Text)
    """private (its owner only) or shared (every user)."""
    version: Mapped[int] = mapped_column(Integer)
    """The current version's number."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PersonaVersion(Base):
    """One version of a persona, never changed: an edit adds the next."""

    __tablename__ = "persona_versions"

    persona_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("personas.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    """A model a routing rule's targets name; None: the category's rule decides."""
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    starters: Mapped[list[str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PersonaSession(Base):
    """A chat session created with a persona, and the version it was created with."""

    __tablename__ = "persona_sessions"
    __table_args__ = (
        # The quick action "start a chat with persona X" is idempotent per user and key.
        Index(
            "uq_persona_sessions_user_key",
            "user_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    persona_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    idempotency_key: Mapped[str | None] = mapped_column(Text)


class ApiKeyReplica(Base):
    """identity's API keys (from their events): what a ``vk-`` bearer is checked against.
    The row is also the key's admission lock (budget and rpm, see key_budgets.py)."""

    __tablename__ = "api_keys"

    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONB)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    budget_total: Mapped[int | None] = mapped_column(BigInteger)
    budget_period: Mapped[str | None] = mapped_column(Text)
    budget_per_period: Mapped[int | None] = mapped_column(BigInteger)
    rpm_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyOwner(Base):
    """A key owner's roles (routing rules match on them), newest by identity's clock."""

    __tablename__ = "api_key_owners"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    roles: Mapped[list[str]] = mapped_column(JSONB)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyHold(Base):
    """The part of an open reservation that counts against a key's budget; it goes with the
    reservation when the call settles (or the reservation expires)."""

    __tablename__ = "api_key_holds"

    reservation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class ApiKeySpend(Base):
    """One settled call made with a key: the per-key side of its usage record."""

    __tablename__ = "api_key_spend"
    __table_args__ = (
        Index("ix_api_key_spend_key_recorded", "key_id", "recorded_at"),
        Index("ix_api_key_spend_user_recorded", "user_id", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    usage_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    """The usage record (what the wallet charges); None for a free call."""
    provider: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ApiKeyMinute(Base):
    """Requests admitted per key per UTC minute (the rpm limit's fixed window)."""

    __tablename__ = "api_key_minutes"

    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
