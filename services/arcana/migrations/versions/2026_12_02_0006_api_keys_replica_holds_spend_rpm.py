"""API keys (issue 19): the replica of identity's keys and owners, key holds on reservations,
per-key spend, rpm windows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:19:39.079360
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key_minutes",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "minute", name=op.f("pk_api_key_minutes")),
    )
    op.create_table(
        "api_key_owners",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_api_key_owners")),
    )
    op.create_table(
        "api_key_spend",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("usage_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key_spend")),
        sa.UniqueConstraint("usage_id", name=op.f("uq_api_key_spend_usage_id")),
    )
    op.create_index(
        "ix_api_key_spend_key_recorded", "api_key_spend", ["key_id", "recorded_at"], unique=False
    )
    op.create_index(
        "ix_api_key_spend_user_recorded", "api_key_spend", ["user_id", "recorded_at"], unique=False
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("scopes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("budget_total", sa.BigInteger(), nullable=True),
        sa.Column("budget_period", sa.Text(), nullable=True),
        sa.Column("budget_per_period", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "api_key_holds",
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_api_key_holds_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reservation_id", name=op.f("pk_api_key_holds")),
    )
    op.create_index(op.f("ix_api_key_holds_key_id"), "api_key_holds", ["key_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_key_holds_key_id"), table_name="api_key_holds")
    op.drop_table("api_key_holds")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index("ix_api_key_spend_user_recorded", table_name="api_key_spend")
    op.drop_index("ix_api_key_spend_key_recorded", table_name="api_key_spend")
    op.drop_table("api_key_spend")
    op.drop_table("api_key_owners")
    op.drop_table("api_key_minutes")
