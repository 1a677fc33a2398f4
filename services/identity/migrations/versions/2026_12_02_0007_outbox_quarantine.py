"""outbox quarantine

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:18:01.006605
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('quarantine_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('outbox', 'quarantine_reason')
    op.drop_column('outbox', 'quarantined_at')
