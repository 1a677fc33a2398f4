"""Usage sequence per user and the wallet's causal marker on the balance replica.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:16:44.901328
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_usage_counters")),
    )
    # Existing rows keep NULL: older usage and replicas fall back to the clock rule.
    op.add_column("balances", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("balances", sa.Column("usage_seq", sa.BigInteger(), nullable=True))
    op.add_column("usage_records", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_usage_records_user_seq", "usage_records", ["user_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_user_seq", table_name="usage_records")
    op.drop_column("usage_records", "seq")
    op.drop_column("balances", "usage_seq")
    op.drop_column("balances", "seq")
    op.drop_table("usage_counters")
