"""Admins read any user's usage (`usage:read-any`, arcana's GET /arcana/usage; issue 19).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSION = "usage:read-any"

permissions = sa.table("permissions", sa.column("name", sa.Text), sa.column("description", sa.Text))
role_permissions = sa.table(
    "role_permissions", sa.column("role", sa.Text), sa.column("permission", sa.Text)
)


def upgrade() -> None:
    op.bulk_insert(permissions, [{"name": PERMISSION, "description": "Read any user's usage"}])
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": PERMISSION}])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission == PERMISSION))
    op.execute(permissions.delete().where(permissions.c.name == PERMISSION))
