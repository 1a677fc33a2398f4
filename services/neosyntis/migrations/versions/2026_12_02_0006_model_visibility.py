"""model visibility: models are private to their owner unless published

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:48:30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "models",
        sa.Column("visibility", sa.Text(), server_default="private", nullable=False),
    )
    op.create_check_constraint("visibility", "models", "visibility IN ('private', 'public')")


def downgrade() -> None:
    op.drop_constraint("visibility", "models", type_="check")
    op.drop_column("models", "visibility")
