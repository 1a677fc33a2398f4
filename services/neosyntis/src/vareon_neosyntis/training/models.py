"""Training jobs (with their worker lease and fencing token) and their log lines."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from vareon_neosyntis.db import Base


class TrainingJob(Base):
    __tablename__ = "training_jobs"
    __table_args__ = (
        Index("ix_training_jobs_owner_created", "owner_id", "created_at", "id"),
        Index("ix_training_jobs_admitted", "owner_id", postgresql_where=text("admitted")),
        Index("ix_training_jobs_queued", "created_at", postgresql_where=text("state = 'queued'")),
        Index(
            "ix_training_jobs_leased",
            "lease_expires_at",
            postgresql_where=text("state IN ('running', 'cancelling')"),
        ),
        CheckConstraint("cost_micro <= budget_micro", name="cost_within_budget"),
        CheckConstraint("charged_micro <= cost_micro", name="charged_within_cost"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    dataset_version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    dataset_digest: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    algorithm: Mapped[str] = mapped_column(Text)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    test_fraction: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str | None] = mapped_column(Text)
    """Register the trained model as a new version of this model (created if missing)."""
    state: Mapped[str] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    budget_micro: Mapped[int] = mapped_column(BigInteger)
    """The reservation: the job never costs more."""
    price_micro_per_cpu_s: Mapped[int] = mapped_column(BigInteger)
    cpu_seconds: Mapped[float] = mapped_column(Float, server_default="0")
    cost_micro: Mapped[int] = mapped_column(BigInteger, server_default="0")
    charged_micro: Mapped[int] = mapped_column(BigInteger, server_default="0")
    """How much of ``cost_micro`` usage events have announced."""
    admitted: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Admitted against the balance (jobs from before admission existed are not counted)."""
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer)
    fencing_token: Mapped[int] = mapped_column(BigInteger, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metrics: Mapped[dict[str, float] | None] = mapped_column(JSONB)
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    artifact_digest: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    workflow_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    workflow_step: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrainingJobLog(Base):
    __tablename__ = "training_job_logs"
    __table_args__ = (Index("ix_training_job_logs_job", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("training_jobs.id", ondelete="CASCADE")
    )
    fencing_token: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    message: Mapped[str] = mapped_column(Text)


class BalanceReplica(Base):
    """The wallet's last announced balance of a user (from ``BalanceChangedV1``)."""

    __tablename__ = "balance_replicas"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    available: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrainingCharge(Base):
    """A wallet usage transfer that charged a training job: the causal marker of admission."""

    __tablename__ = "training_charges"
    __table_args__ = (Index("ix_training_charges_job", "job_id"),)

    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger)
