"""Tables: agents, commands, devices, the model replica, deployments, outbox, inbox and
Idempotency-Keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from vareon_chassis.idempotency import define_idempotency_keys
from vareon_chassis.tables import service_tables

TABLES = service_tables("myntrix", inbox=True)
metadata, OUTBOX, inbox_table = TABLES.metadata, TABLES.outbox, TABLES.inbox
outbox_table = OUTBOX.table
idempotency_keys = define_idempotency_keys(metadata)


class Base(DeclarativeBase):
    metadata = metadata
    __mapper_args__ = {"eager_defaults": True}


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _json(default: str) -> Any:
    return mapped_column(JSONB, nullable=False, server_default=text(f"'{default}'::jsonb"))


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(
            "status IN ('stopped', 'starting', 'running', 'stopping', 'failed')", name="status"
        ),
        CheckConstraint("kind IN ('chat', 'worker', 'inference')", name="kind"),
        Index("ix_agents_owner_created", "owner_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    configuration: Mapped[dict[str, Any]] = _json("{}")
    status: Mapped[str] = mapped_column(Text, server_default="stopped")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Command(Base):
    """One action for one agent; (idempotency_key, agent_id) makes a repeated request a no-op."""

    __tablename__ = "commands"
    __table_args__ = (
        UniqueConstraint("idempotency_key", "agent_id"),
        CheckConstraint("action IN ('start', 'stop', 'restart')", name="action"),
        CheckConstraint(
            "state IN ('queued', 'sent', 'acknowledged', 'succeeded', 'failed', 'expired')",
            name="state",
        ),
        Index(
            "ix_commands_open_expiry",
            "expires_at",
            postgresql_where=text("state IN ('queued', 'sent', 'acknowledged')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agent_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    action: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default="queued")
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Device(Base):
    """A machine that runs models. Connectivity is not a column: it is derived on read from
    ``last_heartbeat_at`` (server clock) and ``inactivity_timeout_s``; ``published_connectivity``
    only remembers which transition was last announced, so each is announced once."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("admin_state IN ('active', 'maintenance', 'retired')", name="admin_state"),
        CheckConstraint("published_connectivity IN ('online', 'offline')", name="published"),
        CheckConstraint("inactivity_timeout_s > 0", name="timeout_positive"),
        Index("ix_devices_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    capabilities: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    admin_state: Mapped[str] = mapped_column(Text, server_default="active")
    credential_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    """SHA-256 of the device token; the token itself is shown once and never stored."""
    inactivity_timeout_s: Mapped[float] = mapped_column(Double)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the server accepted the last heartbeat (server clock)."""
    last_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The device's own timestamp on that heartbeat: older ones are ignored."""
    load: Mapped[float | None] = mapped_column(Double)
    memory_percent: Mapped[float | None] = mapped_column(Double)
    temperature_c: Mapped[float | None] = mapped_column(Double)
    running_models: Mapped[dict[str, int]] = _json("{}")
    desired_models: Mapped[dict[str, int]] = _json("{}")
    pinned_models: Mapped[dict[str, int]] = _json("{}")
    published_connectivity: Mapped[str] = mapped_column(Text, server_default="offline")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ModelVersion(Base):
    """Replica of neosyntis's registered model versions (from its events only)."""

    __tablename__ = "model_versions"

    model_name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    artifact_digest: Mapped[str] = mapped_column(Text)
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    framework: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replicated_at: Mapped[datetime] = _now()


class ModelAlias(Base):
    __tablename__ = "model_aliases"

    model_name: Mapped[str] = mapped_column(Text, primary_key=True)
    alias: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer)
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        CheckConstraint("state IN ('rolling_out', 'succeeded', 'failed', 'aborted')", name="state"),
        CheckConstraint("batch_size >= 1", name="batch_size_positive"),
        CheckConstraint("failure_threshold >= 0 AND failure_threshold <= 1", name="threshold"),
        Index("ix_deployments_created", "created_at", "id"),
        Index("ix_deployments_active", "id", postgresql_where=text("state = 'rolling_out'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    model_name: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    previous_version: Mapped[int | None] = mapped_column(Integer)
    """What most target devices ran before: where a rollback goes."""
    rollback_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("deployments.id"))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    state: Mapped[str] = mapped_column(Text, server_default="rolling_out")
    reason: Mapped[str | None] = mapped_column(Text)
    batch_size: Mapped[int] = mapped_column(Integer)
    pause_s: Mapped[float] = mapped_column(Double)
    failure_threshold: Mapped[float] = mapped_column(Double)
    device_timeout_s: Mapped[float] = mapped_column(Double)
    next_batch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeploymentTarget(Base):
    __tablename__ = "deployment_targets"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'in_progress', 'succeeded', 'failed', 'skipped', 'cancelled')",
            name="state",
        ),
    )

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("devices.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    previous_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
