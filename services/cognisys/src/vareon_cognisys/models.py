"""Cognisys's tables: routing rules, the outbox/inbox, and the traffic sample for dry-runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from vareon_chassis.routing_samples import RoutingSampleColumns
from vareon_chassis.tables import service_tables
from vareon_routing import PRIORITY_MAX, PRIORITY_MIN

TABLES = service_tables("cognisys", inbox=True)
metadata, OUTBOX, INBOX = TABLES.metadata, TABLES.outbox, TABLES.inbox
DEFAULT_RULE_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
"""The seeded default rule's id, the same in every installation."""


class Base(DeclarativeBase):
    metadata = metadata


class RoutingRule(Base):
    __tablename__ = "routing_rules"
    __table_args__ = (
        CheckConstraint(
            f"priority BETWEEN {PRIORITY_MIN} AND {PRIORITY_MAX}", name="priority_range"
        ),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("jsonb_array_length(targets) >= 1", name="has_targets"),
        # At most one default rule.
        Index(
            "uq_routing_rules_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """RuleConditions as JSON (the contract's shape)."""
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """ModelTarget list as JSON, in fallback order."""
    revision: Mapped[int] = mapped_column(BigInteger)
    """Bumped by every change; the event carries it so consumers keep the newest state."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RoutingSample(RoutingSampleColumns, Base):
    """One call arcana routed (RoutingSampleRecordedV1): the rules' inputs, never the text."""

    __tablename__ = "routing_samples"
    __table_args__ = (
        Index("ix_routing_samples_recorded", "recorded_at"),
        Index("ix_routing_samples_user", "user_id"),
    )


class ErasedUser(Base):
    """Users identity deleted: a sample arriving after the erasure is dropped, not stored."""

    __tablename__ = "erased_users"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RoutingTerm(Base):
    """When a keyword or pattern (``vareon_routing.samples`` terms) was in the rules.

    A sample recorded while a term was in no rule says nothing about that term: dry-runs read
    these spans to tell "not in the message" from "not looked for".
    """

    __tablename__ = "routing_terms"
    __table_args__ = (
        Index("uq_routing_terms_open", "term", unique=True, postgresql_where=text("until IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    term: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
