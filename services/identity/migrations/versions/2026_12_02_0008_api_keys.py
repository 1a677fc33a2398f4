"""API keys (hashed) and the admins' `api-keys:admin` permission (issue 19).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:06:46.511005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSION = "api-keys:admin"
permissions = sa.table("permissions", sa.column("name", sa.Text), sa.column("description", sa.Text))
role_permissions = sa.table(
    "role_permissions", sa.column("role", sa.Text), sa.column("permission", sa.Text)
)


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('prefix', sa.Text(), nullable=False),
    sa.Column('key_hash', sa.Text(), nullable=False),
    sa.Column('scopes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('budget_total', sa.BigInteger(), nullable=True),
    sa.Column('budget_period', sa.Text(), nullable=True),
    sa.Column('budget_per_period', sa.BigInteger(), nullable=True),
    sa.Column('rpm_limit', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_index('ix_api_keys_user_created', 'api_keys', ['user_id', 'created_at', 'id'], unique=False)
    op.bulk_insert(
        permissions, [{"name": PERMISSION, "description": "List and revoke any user's API keys"}]
    )
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": PERMISSION}])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission == PERMISSION))
    op.execute(permissions.delete().where(permissions.c.name == PERMISSION))
    op.drop_index('ix_api_keys_user_created', table_name='api_keys')
    op.drop_table('api_keys')
