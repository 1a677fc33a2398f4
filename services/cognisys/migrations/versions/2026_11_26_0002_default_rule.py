"""The default routing rule (offline model, free), and its event so consumers see it too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:45:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from vareon_contracts import Envelope
from vareon_contracts.events.cognisys import ModelTarget, RoutingRuleChangedV1, RuleConditions

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_RULE_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
TARGET = {"provider": "offline", "model": "vareon-offline-1",
          "input_price_per_1k": 0, "output_price_per_1k": 0}

rules = sa.table(
    "routing_rules", sa.column("id", sa.Uuid), sa.column("name", sa.Text),
    sa.column("priority", sa.Integer), sa.column("enabled", sa.Boolean),
    sa.column("is_default", sa.Boolean), sa.column("conditions", postgresql.JSONB),
    sa.column("targets", postgresql.JSONB), sa.column("revision", sa.BigInteger),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)))
outbox = sa.table(
    "outbox", sa.column("event_id", sa.Uuid), sa.column("topic", sa.Text),
    sa.column("key", sa.Text), sa.column("event_type", sa.Text),
    sa.column("headers", postgresql.JSONB), sa.column("payload", postgresql.JSONB))


def upgrade() -> None:
    now = datetime.now(UTC)
    rule = {"id": DEFAULT_RULE_ID, "name": "default", "priority": 0, "enabled": True,
            "is_default": True, "conditions": {}, "targets": [TARGET], "revision": 1,
            "created_at": now, "updated_at": now}
    op.bulk_insert(rules, [rule])
    # Staged in the outbox like any change, so the topic alone rebuilds every rule.
    payload = RoutingRuleChangedV1(
        rule_id=DEFAULT_RULE_ID, revision=1, name="default", priority=0, enabled=True,
        is_default=True, conditions=RuleConditions(), targets=[ModelTarget(**TARGET)],
        changed_at=now)
    envelope = Envelope.wrap(payload, source="vareon-cognisys")
    op.bulk_insert(outbox, [{
        "event_id": uuid.UUID(envelope.id), "topic": payload.topic, "key": envelope.key,
        "event_type": envelope.type, "headers": envelope.headers(), "payload": envelope.data,
    }])


def downgrade() -> None:
    op.execute(outbox.delete().where(outbox.c.key == str(DEFAULT_RULE_ID)))
    op.execute(rules.delete().where(rules.c.id == DEFAULT_RULE_ID))
