"""outbox quarantine

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:17:53.541150
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('quarantine_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('outbox', 'quarantine_reason')
    op.drop_column('outbox', 'quarantined_at')
