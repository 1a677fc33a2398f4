"""The routing-sample row, one definition for the two services that keep it.

Arcana records a sample for each routed call and publishes it as ``RoutingSampleRecordedV1``;
cognisys stores what arrives, for dry-runs of proposed rules. Both rows are the event's fields
(its ``sample_id`` as ``id``), so the columns are written here once and each service's
``models.py`` maps them into its own table with its own indexes:

    class RoutingSample(RoutingSampleColumns, Base):
        __tablename__ = "routing_samples"

Here and not in ``vareon_routing`` or ``vareon_contracts``: both are kept free of SQLAlchemy
(the import contracts in pyproject.toml). Changing a column changes both services' schemas:
each needs its own migration.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from vareon_contracts.events.arcana import RoutingSampleRecordedV1


class RoutingSampleColumns:
    """One routed call's routing inputs (never its text) and what it used."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    category: Mapped[str | None] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(JSONB)
    length: Mapped[int] = mapped_column(Integer)
    terms: Mapped[list[str]] = mapped_column(JSONB)
    text_complete: Mapped[bool] = mapped_column(Boolean)
    rule_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_provider: Mapped[str | None] = mapped_column(Text)
    first_model: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    fell_back: Mapped[bool] = mapped_column(Boolean)
    tokens_in: Mapped[int] = mapped_column(BigInteger)
    tokens_out: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(BigInteger)


def sample_values(event: RoutingSampleRecordedV1) -> dict[str, Any]:
    """The row of a sample event: its fields, ``sample_id`` as ``id``."""
    return {"id": event.sample_id, **event.model_dump(exclude={"sample_id"})}
