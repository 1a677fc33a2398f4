"""The service's metadata, ORM base, outbox, inbox and Idempotency-Key table (domain tables
live in subpackages)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase
from vareon_chassis.idempotency import define_idempotency_keys
from vareon_chassis.tables import service_tables

TABLES = service_tables("neosyntis", inbox=True)
metadata, OUTBOX, inbox_table = TABLES.metadata, TABLES.outbox, TABLES.inbox
IDEMPOTENCY_KEYS = define_idempotency_keys(metadata)


class Base(DeclarativeBase):
    metadata = metadata
