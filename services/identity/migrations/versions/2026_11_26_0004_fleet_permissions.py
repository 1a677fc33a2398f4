"""Fleet permissions myntrix checks: reading devices and deployments, deploying models.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSIONS = {
    "devices:read": "Read hardware devices and deployments",
    "deployments:write": "Deploy, abort and roll back model versions",
}

permissions = sa.table(
    "permissions", sa.column("name", sa.Text), sa.column("description", sa.Text)
)
role_permissions = sa.table(
    "role_permissions", sa.column("role", sa.Text), sa.column("permission", sa.Text)
)


def upgrade() -> None:
    op.bulk_insert(permissions, [{"name": n, "description": d} for n, d in PERMISSIONS.items()])
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": n} for n in PERMISSIONS])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission.in_(PERMISSIONS)))
    op.execute(permissions.delete().where(permissions.c.name.in_(PERMISSIONS)))
