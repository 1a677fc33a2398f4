"""Transactional outbox: an event is written in the same transaction as the state it announces."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts import Envelope, EventPayload

from vareon_chassis.context import causation_id_var, request_id_var
from vareon_chassis.messaging.suppress import is_replaying
from vareon_chassis.telemetry import inject_trace

NOTIFY_CHANNEL = "vareon_outbox"


def define_outbox(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("key", Text),
        Column("event_type", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Column("quarantined_at", DateTime(timezone=True)),
        Column("quarantine_reason", Text),
        Index("ix_outbox_pending", "id", postgresql_where=text("sent_at IS NULL")),
    )


def define_inbox(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Text, primary_key=True),
        Column("consumer", Text, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Outbox:
    """A service's outbox table and its CloudEvents ``source``."""

    def __init__(self, table: Table, source: str) -> None:
        self.table = table
        self.source = source

    async def publish(self, session: AsyncSession, payload: EventPayload) -> Envelope:
        """Stage ``payload`` in the caller's transaction; the relay sends it after commit.

        The per-key lock (held to commit) makes a later transaction for the same key take
        its outbox id only after this one committed, so id order is commit order per key
        and the relay, publishing in id order, keeps each aggregate's events in order.
        During a replay (``side_effects_suppressed``) nothing is staged: the event went out
        when the original was handled.
        """
        envelope = Envelope.wrap(
            payload,
            source=self.source,
            correlationid=request_id_var.get(),
            causationid=causation_id_var.get(),
        )
        if is_replaying():
            return envelope
        await session.execute(
            select(
                func.pg_advisory_xact_lock(
                    func.hashtextextended(f"{payload.topic}/{envelope.key}", 0)
                )
            )
        )
        await session.execute(
            insert(self.table).values(
                event_id=envelope.id,
                topic=payload.topic,
                key=envelope.key,
                event_type=envelope.type,
                headers=inject_trace(envelope.headers()),
                payload=envelope.data,
            )
        )
        # Delivered only on commit; identical notifications in one transaction fold into one.
        await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
        return envelope
