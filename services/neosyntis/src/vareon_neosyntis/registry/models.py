"""The model registry: models, immutable versions with lineage, aliases with their history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
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


class Model(Base):
    """Private models are readable by their owner only; public ones by every signed-in user."""

    __tablename__ = "models"
    __table_args__ = (CheckConstraint("visibility IN ('private', 'public')", name="visibility"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    description: Mapped[str] = mapped_column(Text, server_default="")
    visibility: Mapped[str] = mapped_column(Text, server_default="private")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ModelVersion(Base):
    """Immutable once inserted: a trigger (see the migration) rejects any change except
    erasure's anonymisation (registered_by and dataset_version_id set to NULL)."""

    __tablename__ = "model_versions"
    __table_args__ = (Index("uq_model_versions_model_version", "model_id", "version", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    model_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    registered_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    training_job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    dataset_version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("dataset_versions.id", ondelete="SET NULL"), index=True
    )
    dataset_digest: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, float]] = mapped_column(JSONB)
    artifact_digest: Mapped[str] = mapped_column(Text)
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    framework: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AliasHistory(Base):
    """One row per period an alias pointed at a version; the open row has valid_to NULL."""

    __tablename__ = "alias_history"
    __table_args__ = (
        Index(
            "uq_alias_history_current",
            "model_id",
            "alias",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_alias_history_lookup", "model_id", "alias", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    model_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("models.id"))
    alias: Mapped[str] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)
    """None: the alias was removed for this period."""
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    moved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
