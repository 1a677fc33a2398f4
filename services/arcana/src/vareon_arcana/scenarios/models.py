"""Scenario tables (on arcana's metadata; migrations/env.py imports this module)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from vareon_arcana.models import Base


class Scenario(Base):
    """A persona or category and its test conversations (``spec``: schemas.ScenarioSpec)."""

    __tablename__ = "scenarios"
    __table_args__ = (Index("ix_scenarios_owner_created", "owner_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ScenarioRun(Base):
    """One play of a scenario; ``plan`` is what it plays, fixed when it started: persona or
    category, and the conversations expanded, each with its expectations."""

    __tablename__ = "scenario_runs"
    __table_args__ = (
        Index("ix_scenario_runs_scenario_created", "scenario_id", "created_at"),
        Index("ix_scenario_runs_status_lease", "status", "lease_until"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    scenario_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("scenarios.id", ondelete="CASCADE")
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    roles: Mapped[list[str]] = mapped_column(JSONB)
    """The owner's roles when they started it (routing reads them; the worker has no token)."""
    verified: Mapped[bool] = mapped_column(Boolean)
    charge: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(Text)
    """queued, running, completed, cancelled."""
    plan: Mapped[dict[str, Any]] = mapped_column(JSONB)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, server_default="0")
    passed: Mapped[int] = mapped_column(Integer, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """A running run whose lease passed is claimed again (its worker died): it resumes."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ScenarioResult(Base):
    """What one conversation of a run did, and each expectation's verdict."""

    __tablename__ = "scenario_results"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("scenario_runs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    passed: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost: Mapped[int] = mapped_column(BigInteger)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    """The slowest first token over its turns."""
    total_ms: Mapped[float] = mapped_column(Float)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
