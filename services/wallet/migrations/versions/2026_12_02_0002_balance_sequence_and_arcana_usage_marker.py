"""Per-wallet balance sequence and the arcana usage marker (causal admission).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:09:59.719051

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "accounts",
        sa.Column("arcana_usage_seq", sa.BigInteger(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("accounts", "arcana_usage_seq")
    op.drop_column("accounts", "seq")
