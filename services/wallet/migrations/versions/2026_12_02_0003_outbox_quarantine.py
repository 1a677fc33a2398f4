"""outbox quarantine

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:17:55.233800

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('outbox', sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('quarantine_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('outbox', 'quarantine_reason')
    op.drop_column('outbox', 'quarantined_at')
