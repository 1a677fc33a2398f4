"""outbox quarantine

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 04:20:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('quarantine_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('outbox', 'quarantine_reason')
    op.drop_column('outbox', 'quarantined_at')
