"""The opening of every service's tables: metadata, outbox and inbox, built one way.

Each service's ``models.py`` starts with ``TABLES = service_tables("<name>", inbox=...)``: the
metadata carries the chassis naming convention (so Alembic names constraints the same
everywhere), the outbox stamps CloudEvents ``source`` ``vareon-<name>``, and a service that
consumes events (``inbox=True``) gets its inbox table; one that consumes none has none to
migrate. ``inbox`` is stated, not derived from ``SERVICES``, so declaring a new subscription
never changes a schema by itself (the service's migration adds the inbox when it starts
consuming).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import MetaData, Table
from vareon_contracts.services import SERVICES

from vareon_chassis.db import new_metadata
from vareon_chassis.messaging.outbox import Outbox, define_inbox, define_outbox


def event_source(service: str) -> str:
    """The CloudEvents ``source`` of everything ``service`` publishes."""
    return f"vareon-{service}"


@dataclass(frozen=True)
class ServiceTables:
    service: str
    metadata: MetaData
    outbox: Outbox
    consumer_inbox: Table | None
    """The inbox, or None for a service that consumes nothing."""

    @property
    def inbox(self) -> Table:
        if self.consumer_inbox is None:
            raise LookupError(f"{self.service} consumes no events, so it has no inbox table")
        return self.consumer_inbox


def service_tables(service: str, *, inbox: bool) -> ServiceTables:
    if service not in SERVICES:
        raise KeyError(f"{service!r} is not a service of vareon_contracts.services.SERVICES")
    metadata = new_metadata()
    outbox = Outbox(define_outbox(metadata), source=event_source(service))
    return ServiceTables(service, metadata, outbox, define_inbox(metadata) if inbox else None)
